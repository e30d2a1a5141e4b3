"""Each state change ``core`` makes writes exactly one audit event in its transaction: a sync's start, end and
failure (with counts), a released sync, API tokens made and revoked; the chain head is anchored outside the
database."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.audit.services import audit_anchor
from apps.core import tokens
from apps.core.models import SyncRun
from apps.core.services import sync_queue, sync_run_queued, sync_source, syncrun_reap_stale
from apps.mlflow_sync.services import mlflow_source_add
from tests.conftest import MlflowStore


def _actions(target_type: str = "sync") -> list[str]:
    return list(AuditEvent.objects.filter(target_type=target_type).order_by("seq").values_list("action", flat=True))


@pytest.mark.django_db
def test_a_sync_records_its_start_and_its_end_with_counts(mlflow_store: MlflowStore) -> None:
    source = mlflow_source_add(name="local", tracking_uri=mlflow_store.uri)[0]
    run = sync_source(kind="mlflow", source_id=source.pk)
    assert _actions() == ["sync.started", "sync.succeeded"]
    end = AuditEvent.objects.get(action="sync.succeeded")
    assert end.target_id == str(run.pk) and end.target_text == "mlflow source local"
    assert end.after["counts"]["runs_written"] == 12 and end.actor_name.startswith("cli:")


@pytest.mark.django_db
def test_a_failed_sync_records_its_error(tmp_path: Path) -> None:
    source = mlflow_source_add(name="gone", tracking_uri="http://127.0.0.1:9")[0]
    sync_source(kind="mlflow", source_id=source.pk)
    assert _actions() == ["sync.started", "sync.failed"]
    assert "Cannot reach the MLflow server" in AuditEvent.objects.get(action="sync.failed").after["error"]


@pytest.mark.django_db
def test_a_queued_sync_names_who_asked_for_it(mlflow_store: MlflowStore, staff: User) -> None:
    source = mlflow_source_add(name="local", tracking_uri=mlflow_store.uri)[0]
    sync_queue(kind="mlflow", source_id=source.pk, requested_by=staff.username)
    sync_run_queued()
    assert _actions() == ["sync.queued", "sync.started", "sync.succeeded"]
    assert set(AuditEvent.objects.filter(target_type="sync").values_list("actor_id", flat=True)) == {staff.pk}


@pytest.mark.django_db
def test_a_sync_whose_worker_died_is_recorded_as_failed(mlflow_store: MlflowStore) -> None:
    source = mlflow_source_add(name="local", tracking_uri=mlflow_store.uri)[0]
    run = SyncRun.objects.create(
        kind="mlflow", source_id=source.pk, source_name="local", status="running",
        heartbeat_at=timezone.now() - timedelta(hours=2),
    )  # fmt: skip
    assert syncrun_reap_stale() == 1
    event = AuditEvent.objects.get(action="sync.failed")
    assert event.target_id == str(run.pk) and "Worker died" in event.after["error"]


@pytest.mark.django_db
def test_api_tokens_made_and_revoked_are_recorded(viewer: User, staff: User) -> None:
    token, _key = tokens.api_token_create(user=viewer, name="ci-gate", created_by=staff.username)
    tokens.api_token_revoke(token=token, by=staff.username)
    tokens.api_token_revoke(token=token, by=staff.username)  # no change, no event
    assert _actions("api_token") == ["token.created", "token.revoked"]
    assert AuditEvent.objects.filter(target_type="api_token", actor=staff).count() == 2


@pytest.mark.django_db
def test_the_anchor_writes_the_head_outside_the_database(settings, tmp_path: Path, viewer: User) -> None:  # type: ignore[no-untyped-def]
    settings.AUDIT_ANCHOR_FILE = str(tmp_path / "anchors.log")
    tokens.api_token_create(user=viewer, name="one", created_by="manage.py create_api_token")
    head = AuditEvent.objects.order_by("-seq").first()
    assert audit_anchor() == (head.seq, head.hash)
    assert f"audit chain head {head.seq}:{head.hash}" in (tmp_path / "anchors.log").read_text()


@pytest.mark.django_db
def test_source_changes_in_the_admin_are_recorded(mlflow_store: MlflowStore, tmp_path: Path) -> None:
    from django.test import Client

    from apps.dvc_sync.models import DvcSource
    from tests.dvc_sync.repos import run

    admin = User.objects.create_superuser("root", "root@example.com", "pw-root")
    client = Client()
    client.force_login(admin)
    source = mlflow_source_add(name="local", tracking_uri=mlflow_store.uri)[0]
    form = {"name": "local", "tracking_uri": mlflow_store.uri, "ui_url": "https://mlflow.example.com", "enabled": "on"}
    assert client.post(f"/admin/mlflow_sync/mlflowsource/{source.pk}/change/", form).status_code == 302
    changed = AuditEvent.objects.get(action="source.changed", target_type="mlflow_source")
    assert changed.actor == admin and changed.before == {"ui_url": ""}
    assert changed.after == {"ui_url": "https://mlflow.example.com"}
    client.post(f"/admin/mlflow_sync/mlflowsource/{source.pk}/change/", form)  # saved again unchanged
    assert AuditEvent.objects.filter(action="source.changed").count() == 1

    repo = tmp_path / "repo"
    repo.mkdir()
    run(["git", "init", "-q"], repo)
    dvc = DvcSource.objects.create(name="data", location=str(repo))
    remote = {"check_remotes-TOTAL_FORMS": "1", "check_remotes-INITIAL_FORMS": "0", "check_remotes-0-name": "store",
              "check_remotes-0-url": "/srv/dvc-store", "check_remotes-0-options": "{}",
              "check_remotes-0-credential_env": '{"password": "DVC_PASS"}', "check_remotes-0-enabled": "on"}  # fmt: skip
    form = {"name": "data", "location": str(repo), "root": "", "refs": "", "web_url": "", "enabled": "on", **remote}
    response = client.post(f"/admin/dvc_sync/dvcsource/{dvc.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    event = AuditEvent.objects.get(action="source.changed", target_type="dvc_source")
    assert event.target_id == str(dvc.pk) and event.before == {"remote": None}
    assert event.after["remote"]["credential_env"] == {"password": "DVC_PASS"}  # the variable's name, never a value
