"""One sync per source, guarded in the database; a dead worker does not block the source forever."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core import services
from apps.core.errors import SyncAlreadyRunning
from apps.core.models import SyncRun
from apps.mlflow_sync.models import MlflowSource
from apps.mlflow_sync.services import mlflow_source_add
from tests.conftest import MlflowStore

pytestmark = pytest.mark.django_db


@pytest.fixture
def source(mlflow_store: MlflowStore) -> MlflowSource:
    return mlflow_source_add(name="local", tracking_uri=mlflow_store.uri)[0]


def _running(source: MlflowSource, beat_ago: timedelta) -> SyncRun:
    return SyncRun.objects.create(
        kind="mlflow",
        source_id=source.pk,
        source_name=source.name,
        status=SyncRun.Status.RUNNING,
        started_at=timezone.now() - beat_ago,
        heartbeat_at=timezone.now() - beat_ago,
    )


def test_it_refuses_a_second_sync_while_one_runs(source: MlflowSource) -> None:
    _running(source, timedelta(seconds=5))
    with pytest.raises(SyncAlreadyRunning, match="already running"):
        services.sync_source(kind="mlflow", source_id=source.pk)
    assert SyncRun.objects.count() == 1


def test_a_sync_with_a_stale_heartbeat_is_failed_and_released(source: MlflowSource, settings) -> None:
    dead = _running(source, timedelta(seconds=settings.SYNC_STALE_AFTER_SECONDS + 60))
    run = services.sync_source(kind="mlflow", source_id=source.pk)
    dead.refresh_from_db()
    assert dead.status == SyncRun.Status.FAILED and "Worker died" in dead.error
    assert run.status == SyncRun.Status.SUCCEEDED


def test_sync_now_only_queues_and_the_scheduler_runs_it(staff_client, source: MlflowSource) -> None:
    resp = staff_client.post("/syncs/now/", {"kind": "mlflow", "source_id": source.pk})
    assert resp.status_code == 302
    queued = SyncRun.objects.get()
    assert queued.status == SyncRun.Status.QUEUED and queued.trigger == SyncRun.Trigger.BUTTON
    assert queued.requested_by == "stan"
    ran = services.sync_run_queued()
    assert [r.pk for r in ran] == [queued.pk]
    queued.refresh_from_db()
    assert queued.status == SyncRun.Status.SUCCEEDED


def test_sync_now_twice_says_one_is_already_queued(staff_client, source: MlflowSource) -> None:
    staff_client.post("/syncs/now/", {"kind": "mlflow", "source_id": source.pk})
    resp = staff_client.post("/syncs/now/", {"kind": "mlflow", "source_id": source.pk}, follow=True)
    assert "already queued" in resp.content.decode()
    assert SyncRun.objects.count() == 1


def test_sync_now_is_for_staff_only(viewer_client, source: MlflowSource) -> None:
    resp = viewer_client.post("/syncs/now/", {"kind": "mlflow", "source_id": source.pk})
    assert resp.status_code == 302 and "/admin/login/" in resp["Location"]
    assert not SyncRun.objects.exists()


def test_sync_now_rejects_get(staff_client, source: MlflowSource) -> None:
    assert staff_client.get("/syncs/now/").status_code == 405


def test_sync_now_checks_csrf(staff, source: MlflowSource) -> None:
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    assert client.post("/syncs/now/", {"kind": "mlflow", "source_id": source.pk}).status_code == 403


def test_post_sync_hooks_run_after_every_sync(source: MlflowSource) -> None:
    from apps.core import registry

    seen: list[int] = []
    hook = lambda run: seen.append(run.pk)  # noqa: E731
    registry.register_post_sync_hook(hook)
    try:
        run = services.sync_source(kind="mlflow", source_id=source.pk)
    finally:
        registry._registry.post_sync_hooks.remove(hook)
    assert seen == [run.pk]


def test_a_released_sync_stops_instead_of_running_beside_the_next(source: MlflowSource) -> None:
    from apps.core.errors import SyncError

    run = _running(source, timedelta(seconds=1))
    SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.FAILED, error="Worker died")
    with pytest.raises(SyncError, match="released"):
        services.syncrun_progress(run, done=1, total=2)
    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED and run.error == "Worker died"
