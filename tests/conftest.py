"""Shared fixtures: users in each role, a real MLflow store built once per session, a real `mlflow server`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

# Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls from one without this.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.pop("MLFLOW_REGISTRY_URI", None)
os.environ.pop("MLFLOW_TRACKING_URI", None)

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def ensure_roles() -> None:
    """Re-run the role migrations' data step: a transactional test's flush empties the tables they filled."""
    import importlib

    from django.apps import apps

    if Group.objects.filter(name="viewer").exists():
        return
    for module in (
        "apps.core.migrations.0002_roles",
        "apps.audit.migrations.0003_permissions",
        "apps.mlflow_sync.migrations.0002_permissions",
        "apps.dvc_sync.migrations.0002_permissions",
        "apps.lineage.migrations.0002_permissions",
        "apps.promotions.migrations.0002_permissions",
    ):
        importlib.import_module(module).forwards(apps, None)


@pytest.fixture(scope="session", autouse=True)
def _flush_through_the_audit_escape_hatch() -> Iterator[None]:
    """Transactional tests empty every table with Django's ``flush`` after each test. The audit log's triggers refuse
    DELETE and TRUNCATE of its rows, so the suite's flush goes through their documented escape hatch
    (``apps.audit.triggers.audit_maintenance``); nothing else in the suite or the product does."""
    from django.core.management.commands import flush

    from apps.audit.triggers import audit_maintenance

    original = flush.Command.handle

    def handle(self: flush.Command, *args: object, **options: object) -> object:
        with audit_maintenance(reason="test suite flush", using=str(options.get("database") or "default")):
            return original(self, *args, **options)

    flush.Command.handle = handle  # type: ignore[method-assign]
    yield
    flush.Command.handle = original  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _dvc_clones_in_tmp(settings: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never write into the dashboard's own clones under var/repos (sources there are numbered from 1 too)."""
    settings.DVC_REPOS_DIR = tmp_path_factory.mktemp("clones")  # type: ignore[attr-defined]


def _user(username: str, group: str | None = None, **extra: object) -> User:
    ensure_roles()
    user = User.objects.create_user(username=username, password="pw-" + username, **extra)  # type: ignore[arg-type]
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def viewer(db: None) -> User:
    return _user("vera", "viewer")


@pytest.fixture
def staff(db: None) -> User:
    return _user("stan", "viewer", is_staff=True)


@pytest.fixture
def nobody(db: None) -> User:
    return _user("nora")


@pytest.fixture
def viewer_client(viewer: User) -> Client:
    client = Client()
    client.force_login(viewer)
    return client


@pytest.fixture
def staff_client(staff: User) -> Client:
    client = Client()
    client.force_login(staff)
    return client


# --- MLflow -----------------------------------------------------------------------------------------------------
@dataclass
class MlflowStore:
    path: Path
    facts: dict

    @property
    def uri(self) -> str:
        return f"sqlite:///{self.path}"


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> MlflowStore:
    """An MLflow SQLite store made by MLflow's own client (tests/fixtures/make_mlflow_store.py), built once."""
    folder = tmp_path_factory.mktemp("mlflow-template")
    path = folder / "mlflow.db"
    out = subprocess.run(
        [PYTHON, str(ROOT / "tests/fixtures/make_mlflow_store.py"), f"sqlite:///{path}"],
        capture_output=True,
        text=True,
        check=True,
        cwd=folder,
    )
    return MlflowStore(path=path, facts=json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.fixture
def mlflow_store(mlflow_template: MlflowStore, tmp_path: Path) -> MlflowStore:
    """A private copy of the template store for one test."""
    path = tmp_path / "mlflow.db"
    shutil.copy(mlflow_template.path, path)
    return MlflowStore(path=path, facts=mlflow_template.facts)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class MlflowServer:
    url: str
    store: MlflowStore


def start_mlflow_server(
    store_uri: str, folder: Path, *extra: str, port: int | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    port = port or free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log = open(folder / f"server-{port}.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            store_uri,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--default-artifact-root",
            str(folder / "artifacts"),
            *extra,
        ],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((folder / f"server-{port}.log").read_text()[-3000:])
        try:
            with urllib.request.urlopen(url + "/health", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGTERM)
    raise RuntimeError("mlflow server did not start in 90 s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def mlflow_server(mlflow_template: MlflowStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """A real `mlflow server` (REST) over a copy of the template store, shared by the session."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    path = folder / "mlflow.db"
    shutil.copy(mlflow_template.path, path)
    proc, url = start_mlflow_server(f"sqlite:///{path}", folder)
    try:
        yield MlflowServer(url=url, store=MlflowStore(path=path, facts=mlflow_template.facts))
    finally:
        stop_server(proc)


# -- the churn demo: real git + DVC + MLflow, built once per session --------------------------------------------


@dataclass(frozen=True)
class Demo:
    """The demo project as the lineage tests see it: where it is and what the build made (run ids by label, model
    version numbers by label, data md5s by version, aliases)."""

    path: Path
    run_ids: dict[str, str]
    model_versions: dict[str, int]
    data_md5s: dict[str, str]
    aliases: dict[str, int]

    @property
    def repo(self) -> Path:
        return self.path / "repo"

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.path / 'mlflow_data' / 'mlflow.db'}"


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """The churn demo built with the real tools (``manage.py demo_project``'s builder), once per session (~100 s).
    Tests only read it; a test that writes to MLflow or git copies it first."""
    from apps.core.demo.builder import build_demo_project

    path = tmp_path_factory.mktemp("demo-template") / "demo"
    summary = build_demo_project(path, log=lambda _message: None)
    return Demo(
        path=path,
        run_ids=dict(summary.run_ids),
        model_versions=dict(summary.model_versions),
        data_md5s=dict(summary.data_md5s),
        aliases=dict(summary.aliases),
    )


def sync_demo(demo: Demo) -> None:
    """Add the demo as the MLflow and DVC sources "demo" and sync both, as ``bootstrap`` does (the lineage join
    runs in the post-sync hook)."""
    from apps.core.services import sync_source
    from apps.dvc_sync.services import dvc_source_add
    from apps.mlflow_sync.services import mlflow_source_add

    mlflow_source, _ = mlflow_source_add(name="demo", tracking_uri=demo.tracking_uri)
    dvc_source, _ = dvc_source_add(name="demo", location=str(demo.repo))
    for kind, source_id in (("mlflow", mlflow_source.pk), ("dvc", dvc_source.pk)):
        run = sync_source(kind=kind, source_id=source_id)
        assert run.status == "succeeded", run.error


@pytest.fixture
def demo(demo_template: Demo, db: None) -> Demo:
    """The demo, synced into this test's database."""
    sync_demo(demo_template)
    return demo_template
