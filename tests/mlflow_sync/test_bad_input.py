"""Bad input: the sync ends failed with what happened and what to do, and the mirror stays as it was."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from mlflow.tracking import MlflowClient

from apps.core import services as core_services
from apps.core.errors import SourceError
from apps.core.models import SyncRun
from apps.mlflow_sync import client as mlflow_client
from apps.mlflow_sync.models import MlflowSource, ModelVersion, Run
from apps.mlflow_sync.services import mlflow_source_add
from tests.conftest import MlflowServer, MlflowStore, free_port, start_mlflow_server, stop_server

pytestmark = pytest.mark.django_db


def _sync(source: MlflowSource) -> SyncRun:
    return core_services.sync_source(kind="mlflow", source_id=source.pk)


def _snapshot(source: MlflowSource) -> list[tuple]:
    return list(
        Run.objects.filter(source=source).order_by("run_id").values_list("run_id", "probe", "params", "deleted")
    )


@pytest.fixture
def synced(mlflow_store: MlflowStore) -> tuple[MlflowSource, list[tuple]]:
    source = mlflow_source_add(name="local", tracking_uri=mlflow_store.uri)[0]
    assert _sync(source).status == SyncRun.Status.SUCCEEDED
    source.refresh_from_db()
    return source, _snapshot(source)


def test_an_unreachable_server_fails_the_sync_with_what_to_do() -> None:
    source = mlflow_source_add(name="down", tracking_uri=f"http://127.0.0.1:{free_port()}")[0]
    run = _sync(source)
    assert run.status == SyncRun.Status.FAILED
    assert "Cannot reach the MLflow server" in run.error and "running" in run.error


def test_a_corrupt_sqlite_file_fails_and_keeps_the_mirror(synced: tuple, mlflow_store: MlflowStore) -> None:
    source, before = synced
    with open(mlflow_store.path, "r+b") as f:
        f.write(b"this is not a database" * 100)
    run = _sync(source)
    assert run.status == SyncRun.Status.FAILED
    assert "corrupt" in run.error and "backup" in run.error
    assert _snapshot(source) == before


def test_a_locked_sqlite_file_fails_with_the_reason(synced: tuple, mlflow_store: MlflowStore, settings) -> None:
    source, before = synced
    holder = sqlite3.connect(mlflow_store.path, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        from apps.mlflow_sync import sqlstore

        original = sqlstore.SqlStore.__init__

        def short_timeout(self, uri: str, **kw: object) -> None:  # a locked file is reported after 0.2 s, not 10
            original(self, uri, **{**kw, "timeout": 0.2})  # type: ignore[arg-type]

        sqlstore.SqlStore.__init__ = short_timeout  # type: ignore[method-assign]
        try:
            run = _sync(source)
        finally:
            sqlstore.SqlStore.__init__ = original  # type: ignore[method-assign]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert run.status == SyncRun.Status.FAILED
    assert "locked" in run.error
    assert _snapshot(source) == before


def test_an_unknown_schema_revision_says_to_use_the_tracking_server(synced: tuple, mlflow_store: MlflowStore) -> None:
    source, before = synced
    with sqlite3.connect(mlflow_store.path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    run = _sync(source)
    assert run.status == SyncRun.Status.FAILED
    assert "'ffffffffffff'" in run.error and "mlflow server" in run.error and "http" in run.error
    assert _snapshot(source) == before


def test_a_sqlite_uri_whose_file_does_not_exist_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        mlflow_source_add(name="typo", tracking_uri=f"sqlite:///{tmp_path}/nope.db")
    assert not (tmp_path / "nope.db").exists()
    assert not MlflowSource.objects.exists()


def test_a_timeout_while_paging_keeps_earlier_runs_and_the_watermark(
    mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = mlflow_source_add(name="server", tracking_uri=mlflow_server.url)[0]
    assert _sync(source).status == SyncRun.Status.SUCCEEDED
    source.refresh_from_db()
    state, before = source.sync_state, _snapshot(source)
    versions_before = list(ModelVersion.objects.values_list("pk", "aliases", "stage"))

    # The fault: the tracking server stops answering on the second page of runs.
    monkeypatch.setattr(mlflow_client, "PAGE_SIZE", 2)
    real_search = MlflowClient.search_runs
    calls = {"n": 0}

    def flaky(self: MlflowClient, *args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] > 1:
            raise requests.exceptions.ReadTimeout("Read timed out. (read timeout=30)")
        return real_search(self, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, "search_runs", flaky)
    run = core_services.sync_source(kind="mlflow", source_id=source.pk, full=True)
    assert run.status == SyncRun.Status.FAILED
    assert "did not answer in time" in run.error
    source.refresh_from_db()
    assert source.sync_state == state
    assert _snapshot(source) == before
    assert list(ModelVersion.objects.values_list("pk", "aliases", "stage")) == versions_before


def test_the_failure_shows_in_the_header(viewer_client, mlflow_store: MlflowStore) -> None:
    source = mlflow_source_add(name="down", tracking_uri=f"http://127.0.0.1:{free_port()}")[0]
    _sync(source)
    page = viewer_client.get("/").content.decode()
    assert "Last sync failed" in page and "down" in page


# --- credentials -----------------------------------------------------------------------------------------------
ADMIN_PASSWORD = "Adm1n-pass-wOrd-2026!"
READER_PASSWORD = "Re4der-pass-wOrd-2026!"


@pytest.fixture(scope="module")
def auth_server(mlflow_template: MlflowStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `mlflow server --app-name basic-auth` with an admin and a second, read-only user."""
    folder = tmp_path_factory.mktemp("mlflow-auth")
    import shutil

    shutil.copy(mlflow_template.path, folder / "mlflow.db")
    ini = folder / "auth.ini"
    ini.write_text(
        "[mlflow]\ndefault_permission = READ\n"
        f"database_uri = sqlite:///{folder}/auth.db\nadmin_username = admin\nadmin_password = {ADMIN_PASSWORD}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        "grant_default_workspace_access = true\n"
    )
    os.environ["MLFLOW_AUTH_CONFIG_PATH"] = str(ini)
    os.environ["MLFLOW_FLASK_SERVER_SECRET_KEY"] = "test-only-secret-key-for-the-auth-server"
    try:
        proc, url = start_mlflow_server(f"sqlite:///{folder}/mlflow.db", folder, "--app-name", "basic-auth")
    finally:
        os.environ.pop("MLFLOW_AUTH_CONFIG_PATH", None)
        os.environ.pop("MLFLOW_FLASK_SERVER_SECRET_KEY", None)
    try:
        resp = requests.post(
            f"{url}/api/2.0/mlflow/users/create",
            json={"username": "reader", "password": READER_PASSWORD},
            auth=("admin", ADMIN_PASSWORD),
            timeout=30,
        )
        resp.raise_for_status()
        yield url
    finally:
        stop_server(proc)


def test_two_sources_sync_with_their_own_credentials(auth_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAM_A_USER", "admin")
    monkeypatch.setenv("TEAM_A_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("TEAM_B_USER", "reader")
    monkeypatch.setenv("TEAM_B_PASSWORD", READER_PASSWORD)
    monkeypatch.setenv("TEAM_C_PASSWORD", "wrong-password")
    a = mlflow_source_add(
        name="a", tracking_uri=auth_server, username_env="TEAM_A_USER", password_env="TEAM_A_PASSWORD"
    )[0]
    b = mlflow_source_add(
        name="b", tracking_uri=auth_server + "/", username_env="TEAM_B_USER", password_env="TEAM_B_PASSWORD"
    )[0]
    c = mlflow_source_add(
        name="c", tracking_uri=auth_server + "//", username_env="TEAM_B_USER", password_env="TEAM_C_PASSWORD"
    )[0]
    assert _sync(a).status == SyncRun.Status.SUCCEEDED
    assert _sync(b).status == SyncRun.Status.SUCCEEDED
    failed = _sync(c)
    assert failed.status == SyncRun.Status.FAILED and "refused the credentials" in failed.error
    assert Run.objects.filter(source=a).count() == Run.objects.filter(source=b).count() > 0
    assert "MLFLOW_TRACKING_PASSWORD" not in os.environ
    stored = MlflowSource.objects.values_list("username_env", "password_env")
    assert all(ADMIN_PASSWORD not in v and READER_PASSWORD not in v for row in stored for v in row)


def test_an_unset_credential_variable_fails_with_its_name(auth_server: str) -> None:
    source = mlflow_source_add(name="unset", tracking_uri=auth_server, password_env="NOT_SET_ANYWHERE")[0]
    run = _sync(source)
    assert run.status == SyncRun.Status.FAILED and "$NOT_SET_ANYWHERE" in run.error


def test_a_refused_connection_on_a_port_holding_403_is_not_taken_for_refused_credentials() -> None:
    from apps.mlflow_sync.client import translate_error

    down = translate_error(
        ConnectionError("HTTPConnectionPool(host='127.0.0.1', port=44035): connection refused"),
        "http://127.0.0.1:44035",
    )
    assert str(down).startswith("Cannot reach the MLflow server")
    denied = translate_error(RuntimeError("API request failed with error code 403 != 200"), "http://127.0.0.1:5000")
    assert "refused the credentials" in str(denied)
