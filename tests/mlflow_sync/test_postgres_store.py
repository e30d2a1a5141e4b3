"""The direct read of an MLflow store that lives on PostgreSQL (MLflow's `postgresql://` URIs)."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from mlflow.tracking import MlflowClient

from apps.core import services as core_services
from apps.core.models import SyncRun
from apps.mlflow_sync.services import mlflow_source_add
from tests.conftest import PYTHON, ROOT
from tests.mlflow_sync.compare import assert_mirror_matches_client

SERVER = os.environ.get("MLFLOW_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")


@pytest.fixture(scope="module")
def pg_store_uri() -> Iterator[str]:
    """A fresh PostgreSQL database holding an MLflow store made by MLflow's own client."""
    name = f"mlflow_store_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(SERVER + "/postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        pytest.skip(f"no PostgreSQL at {SERVER} for an MLflow store")
    admin.execute(f'CREATE DATABASE "{name}"')
    uri = f"{SERVER}/{name}"
    try:
        subprocess.run(
            [PYTHON, str(ROOT / "tests/fixtures/make_mlflow_store.py"), uri], check=True, capture_output=True
        )
        yield uri
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.mark.django_db
def test_it_mirrors_an_mlflow_store_on_postgresql_directly(pg_store_uri: str) -> None:
    source = mlflow_source_add(name="pg", tracking_uri=pg_store_uri)[0]
    run = core_services.sync_source(kind="mlflow", source_id=source.pk)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert_mirror_matches_client(source, MlflowClient(pg_store_uri, pg_store_uri))
    again = core_services.sync_source(kind="mlflow", source_id=source.pk)
    assert again.counts["runs_written"] == 0


@pytest.mark.django_db
def test_wrong_database_credentials_are_named(pg_store_uri: str) -> None:
    source = mlflow_source_add(name="pg", tracking_uri=pg_store_uri.replace("postgres@", "nobody@"))[0]
    run = core_services.sync_source(kind="mlflow", source_id=source.pk)
    assert run.status == SyncRun.Status.FAILED
    assert "refused the credentials" in run.error
