"""The command-line entry points: add_source, sync_mlflow, sync_all, run_scheduler, ensure_login."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.core.models import SyncRun
from apps.mlflow_sync.models import MlflowSource, Run
from tests.conftest import MlflowStore, free_port

pytestmark = pytest.mark.django_db


def _call(*args: str, **kwargs: object) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO(), **kwargs)
    return out.getvalue()


def test_add_source_is_idempotent_and_refuses_a_changed_uri(mlflow_store: MlflowStore, tmp_path) -> None:
    assert "Added mlflow source 'team-a'" in _call("add_source", "mlflow", "team-a", mlflow_store.uri)
    assert "nothing changed" in _call("add_source", "mlflow", "team-a", mlflow_store.uri)
    other = tmp_path / "other.db"
    other.write_bytes(mlflow_store.path.read_bytes())
    with pytest.raises(CommandError, match="already exists"):
        _call("add_source", "mlflow", "team-a", f"sqlite:///{other}")
    assert MlflowSource.objects.get().tracking_uri == mlflow_store.uri


@pytest.mark.parametrize("name", ["has space", "x" * 201, "semi;colon", ""])
def test_add_source_refuses_bad_names(mlflow_store: MlflowStore, name: str) -> None:
    with pytest.raises(CommandError):
        _call("add_source", "mlflow", name, mlflow_store.uri)
    assert not MlflowSource.objects.exists()


def test_sync_mlflow_syncs_every_source_and_fails_loudly(mlflow_store: MlflowStore) -> None:
    _call("add_source", "mlflow", "good", mlflow_store.uri)
    _call("add_source", "mlflow", "down", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(CommandError, match="1 of 2 MLflow syncs failed"):
        _call("sync_mlflow", "--no-progress")
    assert Run.objects.filter(source__name="good").count() == 12
    assert "good:" in _call("sync_mlflow", "--source", "good", "--no-progress")


def test_sync_mlflow_names_an_unknown_source() -> None:
    with pytest.raises(CommandError, match="No MLflow source named 'nope'"):
        _call("sync_mlflow", "--source", "nope")


def test_the_environment_adds_a_default_source(mlflow_store: MlflowStore, settings) -> None:
    settings.MLFLOW_DEFAULT_SOURCE_URI = mlflow_store.uri
    _call("sync_all")
    assert MlflowSource.objects.get().name == "default"
    assert SyncRun.objects.get().status == SyncRun.Status.SUCCEEDED


def test_the_scheduler_runs_the_periodic_sync_once(mlflow_store: MlflowStore) -> None:
    _call("add_source", "mlflow", "good", mlflow_store.uri)
    _call("run_scheduler", "--once", "--poll", "0")
    run = SyncRun.objects.get()
    assert run.trigger == SyncRun.Trigger.SCHEDULE and run.status == SyncRun.Status.SUCCEEDED


def test_ensure_login_creates_one_superuser_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINEAGE_ADMIN_USER", "ops")
    monkeypatch.setenv("LINEAGE_ADMIN_PASSWORD", "a-long-password-from-env")
    _call("ensure_login")
    _call("ensure_login")
    user = User.objects.get()
    assert user.username == "ops" and user.is_superuser and user.check_password("a-long-password-from-env")
