"""Celery tasks of ``core``: thin, take ids, call one service."""

from __future__ import annotations

from celery import shared_task

from apps.core import services
from apps.core.models import SyncRun

SOFT_LIMIT = 60 * 60
HARD_LIMIT = SOFT_LIMIT + 300


@shared_task(soft_time_limit=SOFT_LIMIT, time_limit=HARD_LIMIT, ignore_result=True)
def run_queued_sync(syncrun_id: int) -> None:
    """Run a sync queued by the "Sync now" button; does nothing if another worker already took it."""
    run = SyncRun.objects.filter(pk=syncrun_id).values_list("kind", "source_id").first()
    if run is None:
        return
    services.sync_source(kind=run[0], source_id=run[1], syncrun_id=syncrun_id)


@shared_task(soft_time_limit=SOFT_LIMIT, time_limit=HARD_LIMIT, ignore_result=True)
def sync_all_sources() -> None:
    """The periodic job: sync every enabled source, skipping those whose sync is already running."""
    services.sync_all(trigger=SyncRun.Trigger.SCHEDULE)
