"""Promotions against a real `mlflow server` on 127.0.0.1: each test registers a model of its own in it (so tests
never see each other's aliases), mirrors it with a real sync, and promotes it with the real services."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client
from mlflow.tracking import MlflowClient

from apps.core import services as core_services
from apps.mlflow_sync.models import MlflowSource, ModelVersion, RegisteredModel
from apps.mlflow_sync.services import mlflow_source_add
from tests.conftest import MlflowStore, _user, free_port, start_mlflow_server, stop_server


@dataclass
class Server:
    url: str
    store: Path
    folder: Path
    port: int
    proc: object = None

    def start(self) -> None:
        self.proc, _ = start_mlflow_server(f"sqlite:///{self.store}", self.folder, port=self.port)

    def stop(self) -> None:
        if self.proc is not None:
            stop_server(self.proc)  # type: ignore[arg-type]
            self.proc = None


def _server(template: MlflowStore, folder: Path) -> Server:
    store = folder / "mlflow.db"
    shutil.copy(template.path, store)
    port = free_port()
    server = Server(url=f"http://127.0.0.1:{port}", store=store, folder=folder, port=port)
    server.start()
    return server


@pytest.fixture(scope="session")
def registry_server(mlflow_template: MlflowStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One `mlflow server` the promotion tests write to (not the shared read-only one)."""
    server = _server(mlflow_template, tmp_path_factory.mktemp("registry-server"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def own_server(mlflow_template: MlflowStore, tmp_path: Path) -> Iterator[Server]:
    """A server of this test's own, which the test may stop and start again on the same port."""
    server = _server(mlflow_template, tmp_path)
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Registry:
    """A model of this test's own in a real MLflow registry, mirrored: v1 holds @production and stage Production,
    v2 @staging and stage Staging, v3 nothing."""

    server: Server
    name: str
    source: MlflowSource
    client: MlflowClient
    runs: list[str] = field(default_factory=list)

    @property
    def model(self) -> RegisteredModel:
        return RegisteredModel.objects.get(source=self.source, name=self.name)

    def version(self, n: int) -> ModelVersion:
        return ModelVersion.objects.select_related("model", "source").get(
            model__source=self.source, model__name=self.name, version=n
        )

    def sync(self) -> None:
        run = core_services.sync_source(kind="mlflow", source_id=self.source.pk)
        assert run.status == "succeeded", run.error

    def alias(self, alias: str) -> int | None:
        held = self.client.get_registered_model(self.name).aliases.get(alias)
        return int(held) if held is not None else None

    def stage(self, n: int) -> str:
        return self.client.get_model_version(self.name, str(n)).current_stage


def make_registry(server: Server, template: MlflowStore, source_name: str = "reg") -> Registry:
    client = MlflowClient(server.url, server.url)
    name = f"churn-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name, description="a model of one test")
    runs = [template.facts["run_ids"][k] for k in ("rf-1", "rf-3", "rf-5")]
    for run_id in runs:
        client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
    client.set_registered_model_alias(name, "production", "1")
    client.set_registered_model_alias(name, "staging", "2")
    client.transition_model_version_stage(name, "1", "Production")
    client.transition_model_version_stage(name, "2", "Staging")
    source = (
        MlflowSource.objects.filter(name=source_name).first()
        or mlflow_source_add(name=source_name, tracking_uri=server.url)[0]
    )
    registry = Registry(server=server, name=name, source=source, client=client, runs=runs)
    registry.sync()
    return registry


@pytest.fixture
def registry(registry_server: Server, mlflow_template: MlflowStore, db: None) -> Iterator[Registry]:
    made = make_registry(registry_server, mlflow_template)
    yield made
    # Each test's model goes again, so the shared server's registry (read whole by every sync) stays small.
    made.client.delete_registered_model(made.name)


@pytest.fixture
def approver(db: None) -> User:
    return _user("abby", "approver", email="abby@example.com")


@pytest.fixture
def second_approver(db: None) -> User:
    return _user("otto", "approver", email="otto@example.com")


@pytest.fixture
def auditor(db: None) -> User:
    return _user("audrey", "auditor")


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client
