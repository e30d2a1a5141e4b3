"""Celery tasks of the DVC mirror: thin, take ids, call the one sync service."""

from __future__ import annotations

from celery import shared_task

from apps.core import services as core_services
from apps.core.errors import SyncAlreadyRunning
from apps.core.models import SyncRun


@shared_task(soft_time_limit=3600, time_limit=3900, ignore_result=True)
def sync_dvc_source(source_id: int, full: bool = False, trigger: str = SyncRun.Trigger.SCHEDULE) -> int | None:
    """Sync one DVC source; returns the SyncRun id, or None when a sync of it is already running."""
    try:
        run = core_services.sync_source(kind="dvc", source_id=source_id, full=full, trigger=trigger)
    except SyncAlreadyRunning:
        return None
    return run.pk
