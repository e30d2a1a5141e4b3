"""Writes owned by ``core``: the life of a ``SyncRun`` and the one service every sync entry point calls."""

from __future__ import annotations

import getpass
import logging
import traceback
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core import registry
from apps.core.errors import AppError, SourceError, SyncAlreadyRunning, SyncError
from apps.core.models import SourceBase, SyncRun

logger = logging.getLogger(__name__)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _actor(syncrun: SyncRun) -> dict[str, str]:
    """Who a sync's events name: the user who clicked "Sync now", else the process that started it."""
    if syncrun.requested_by:
        return {"actor_username": syncrun.requested_by}
    by_trigger: dict[str, str] = {SyncRun.Trigger.COMMAND: f"cli:{_os_user()}", SyncRun.Trigger.SCHEDULE: "scheduler"}
    return {"actor_name": by_trigger.get(syncrun.trigger, "system")}


def _record_sync(syncrun: SyncRun, action: str, **after: Any) -> None:
    """The audit event of one step in a sync's life, in the caller's transaction."""
    registry.record_event(
        action=action,
        target_type="sync",
        target_id=syncrun.pk,
        target_text=f"{syncrun.kind} source {syncrun.source_name}",
        after={
            "kind": syncrun.kind,
            "source_id": syncrun.source_id,
            "source": syncrun.source_name,
            "trigger": syncrun.trigger,
            "full": syncrun.full,
            **after,
        },
        **_actor(syncrun),
    )


def _fail_stale(qs: Any, error: str, now: Any) -> int:
    """Fail each sync of ``qs`` with ``error``, each with its event, one transaction per sync."""
    released = 0
    for pk in list(qs.values_list("pk", flat=True)):
        with transaction.atomic():
            if qs.filter(pk=pk).update(status=SyncRun.Status.FAILED, finished_at=now, error=error):
                released += 1
                _record_sync(SyncRun.objects.get(pk=pk), "sync.failed", error=error)
    return released


def syncrun_reap_stale(*, kind: str | None = None, source_id: int | None = None) -> int:
    """Mark active syncs whose heartbeat is stale as failed ("worker died"). Returns how many were released."""
    cutoff = timezone.now() - timedelta(seconds=settings.SYNC_STALE_AFTER_SECONDS)
    qs = SyncRun.objects.filter(status__in=SyncRun.ACTIVE)
    if kind is not None:
        qs = qs.filter(kind=kind)
    if source_id is not None:
        qs = qs.filter(source_id=source_id)
    stale_running = qs.filter(status=SyncRun.Status.RUNNING, heartbeat_at__lt=cutoff)
    # A queued sync nobody picked up within a day is released too: its worker or scheduler is not running.
    stale_queued = qs.filter(status=SyncRun.Status.QUEUED, created_at__lt=timezone.now() - timedelta(days=1))
    now = timezone.now()
    released = _fail_stale(
        stale_running,
        "Worker died: no heartbeat for "
        f"{settings.SYNC_STALE_AFTER_SECONDS} s. Data mirrored before it is intact; the next sync resumes from there.",
        now,
    )
    released += _fail_stale(
        stale_queued,
        "Never started: no worker or scheduler picked this sync up within a day. Start `make run` "
        "(or a Celery worker with REDIS_URL) and sync again.",
        now,
    )
    return released


def _active_message(kind: str, source_name: str) -> SyncAlreadyRunning:
    active = SyncRun.objects.filter(kind=kind, source_name=source_name, status__in=SyncRun.ACTIVE).first()
    since = f" since {active.created_at:%Y-%m-%d %H:%M:%S} UTC" if active else ""
    return SyncAlreadyRunning(
        f"A sync of {kind} source '{source_name}' is already {active.status if active else 'running'}{since}.",
        hint="Wait for it to finish; if its worker died it is released automatically "
        f"after {settings.SYNC_STALE_AFTER_SECONDS // 60} minutes without a heartbeat.",
    )


def syncrun_begin(
    *,
    source: registry.SourceRef,
    full: bool = False,
    trigger: str = SyncRun.Trigger.COMMAND,
    requested_by: str = "",
    queued: bool = False,
) -> SyncRun:
    """Create the ``SyncRun`` for a new sync, running (or queued). Refuses a second active sync of the source."""
    syncrun_reap_stale(kind=source.kind, source_id=source.id)
    now = timezone.now()
    try:
        with transaction.atomic():
            syncrun = SyncRun.objects.create(
                kind=source.kind,
                source_id=source.id,
                source_name=source.name,
                full=full,
                trigger=trigger,
                requested_by=requested_by,
                status=SyncRun.Status.QUEUED if queued else SyncRun.Status.RUNNING,
                started_at=None if queued else now,
                heartbeat_at=now,
            )
            _record_sync(syncrun, "sync.queued" if queued else "sync.started")
            return syncrun
    except IntegrityError:
        raise _active_message(source.kind, source.name) from None


def syncrun_claim(syncrun_id: int) -> SyncRun | None:
    """Move a queued sync to running. Returns None when it is not queued any more (another worker took it)."""
    now = timezone.now()
    with transaction.atomic():
        claimed = SyncRun.objects.filter(pk=syncrun_id, status=SyncRun.Status.QUEUED).update(
            status=SyncRun.Status.RUNNING, started_at=now, heartbeat_at=now
        )
        if not claimed:
            return None
        syncrun = SyncRun.objects.get(pk=syncrun_id)
        _record_sync(syncrun, "sync.started")
        return syncrun


def syncrun_progress(
    syncrun: SyncRun, *, done: int, total: int, phase: str = "", counts: dict[str, int] | None = None
) -> None:
    """Record progress and beat the heart, in a short transaction of its own (never inside a batch). Raises
    ``SyncError`` when the sync was released meanwhile (its heartbeat went stale and it was marked failed): a
    released sync must stop, since another one of the same source may already be running."""
    fields: dict[str, Any] = {
        "progress_done": max(0, done),
        "progress_total": max(0, total),
        "heartbeat_at": timezone.now(),
    }
    if phase:
        fields["phase"] = phase[:100]
    if counts is not None:
        fields["counts"] = counts
    if not SyncRun.objects.filter(pk=syncrun.pk, status=SyncRun.Status.RUNNING).update(**fields):
        raise SyncError(
            "This sync was released after its heartbeat went stale and has stopped.",
            hint="Another sync of the source may be running; see the sync history.",
        )


def _finish(syncrun: SyncRun, **fields: Any) -> SyncRun:
    """End a running sync, with its audit event. A sync that was released meanwhile keeps the failure it was given
    (and the event written when it was released)."""
    fields.setdefault("finished_at", timezone.now())
    with transaction.atomic():
        ended = SyncRun.objects.filter(pk=syncrun.pk, status=SyncRun.Status.RUNNING).update(**fields)
        syncrun.refresh_from_db()
        if ended:
            if syncrun.status == SyncRun.Status.SUCCEEDED:
                _record_sync(syncrun, "sync.succeeded", counts=syncrun.counts, message=syncrun.message)
            else:
                _record_sync(syncrun, "sync.failed", error=syncrun.error)
    return syncrun


def _count_phrase(key: str, value: int) -> str:
    """``runs_written`` 3 → "3 runs written"; 1 → "1 run written"."""
    words = key.split("_")
    if value == 1:
        plural = next((i for i, w in enumerate(words) if w.endswith("s")), None)
        if plural is not None:
            words[plural] = words[plural][:-1]
    return f"{value} {' '.join(words)}"


def source_check(source: SourceBase) -> None:
    """Validate a new or edited source before it is saved; refuses (``SourceError``) naming each field's problem."""
    try:
        source.full_clean()
    except ValidationError as exc:
        raise SourceError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc


def _find_source(kind: str, source_id: int) -> registry.SourceRef | None:
    return next((s for s in registry.source_kind(kind).list_sources() if s.id == source_id), None)


def sources_ensure_defaults(*, kinds: list[str] | None = None) -> None:
    """Let each kind (or those in ``kinds``) add the sources its environment names, e.g. ``MLFLOW_TRACKING_URI``."""
    for name, source_kind in registry.source_kinds().items():
        if (kinds is None or name in kinds) and source_kind.ensure_defaults is not None:
            source_kind.ensure_defaults()


def sync_source(
    *,
    kind: str,
    source_id: int,
    full: bool = False,
    trigger: str = SyncRun.Trigger.COMMAND,
    requested_by: str = "",
    syncrun_id: int | None = None,
    on_progress: registry.Progress | None = None,
) -> SyncRun:
    """Run one sync of one source and return its finished ``SyncRun`` (succeeded or failed).

    Every entry point calls this: the management commands, the Celery tasks, the scheduler. With ``syncrun_id`` it
    runs a queued sync (returns it unchanged if someone else already took it). Refuses (``SyncAlreadyRunning``) a
    second sync of a source while one is active. A failure is recorded on the ``SyncRun``, never raised: the data
    mirrored before stays as it was because each batch is its own transaction and watermarks advance only on success.
    """
    source_kind = registry.source_kind(kind)
    source = _find_source(kind, source_id)
    if syncrun_id is not None:
        claimed = syncrun_claim(syncrun_id)
        if claimed is None:
            return SyncRun.objects.get(pk=syncrun_id)
        syncrun = claimed
        full = syncrun.full
        if source is None:
            return _finish(syncrun, status=SyncRun.Status.FAILED, error="The source was deleted before the sync ran.")
    else:
        if source is None:
            raise SyncError(f"No {kind} source with id {source_id}.")
        syncrun = syncrun_begin(source=source, full=full, trigger=trigger, requested_by=requested_by)

    def progress(*, done: int, total: int, phase: str = "", counts: dict[str, int] | None = None) -> None:
        syncrun_progress(syncrun, done=done, total=total, phase=phase, counts=counts)
        if on_progress is not None:
            on_progress(done=done, total=total, phase=phase, counts=counts)

    started = timezone.now()
    try:
        counts = source_kind.sync(source_id, full=full, progress=progress)
    except AppError as exc:
        logger.warning("%s sync of %s failed: %s", kind, syncrun.source_name, exc)
        syncrun = _finish(syncrun, status=SyncRun.Status.FAILED, error=str(exc))
    except Exception as exc:  # an unexpected failure still ends the SyncRun, with the trace in the log
        logger.exception("%s sync of %s failed unexpectedly", kind, syncrun.source_name)
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        syncrun = _finish(
            syncrun,
            status=SyncRun.Status.FAILED,
            error=f"Unexpected error: {last}. Data mirrored before is intact; see the server log for details.",
        )
    except BaseException:  # Ctrl-C or a worker shutdown: release the source now rather than after the stale timeout
        _finish(syncrun, status=SyncRun.Status.FAILED, error="Interrupted before it finished; sync again.")
        raise
    else:
        elapsed = (timezone.now() - started).total_seconds()
        summary = ", ".join(_count_phrase(k, v) for k, v in counts.items() if v) or "no changes"
        syncrun = _finish(
            syncrun,
            status=SyncRun.Status.SUCCEEDED,
            counts=counts,
            message=f"{summary} in {elapsed:.1f} s",
            progress_done=syncrun.progress_total or 1,
        )
    for hook in registry.post_sync_hooks():
        try:
            hook(syncrun)
        except Exception:  # a hook's failure must not turn a finished sync into an unfinished one
            logger.exception("post-sync hook %r failed for sync %s", hook, syncrun.pk)
    return syncrun


def sync_queue(
    *, kind: str, source_id: int, full: bool = False, trigger: str = SyncRun.Trigger.BUTTON, requested_by: str = ""
) -> SyncRun:
    """Queue a sync without running it (the "Sync now" button). A Celery worker runs it when ``REDIS_URL`` is set;
    otherwise the scheduler process started by ``make run`` picks it up. Refuses a second active sync."""
    from apps.core.tasks import run_queued_sync

    source = _find_source(kind, source_id)
    if source is None:
        raise SyncError(f"No {kind} source with id {source_id}.")
    syncrun = syncrun_begin(source=source, full=full, trigger=trigger, requested_by=requested_by, queued=True)
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        transaction.on_commit(lambda: run_queued_sync.delay(syncrun.pk))
    return syncrun


def sync_run_queued(*, limit: int = 10) -> list[SyncRun]:
    """Run the queued syncs, oldest first (the embedded scheduler's job). Returns the syncs it ran."""
    syncrun_reap_stale()
    ran = []
    for pk, kind, source_id in (
        SyncRun.objects.filter(status=SyncRun.Status.QUEUED)
        .order_by("created_at")
        .values_list("pk", "kind", "source_id")[:limit]
    ):
        ran.append(sync_source(kind=kind, source_id=source_id, syncrun_id=pk))
    return ran


def sync_all(
    *, full: bool = False, trigger: str = SyncRun.Trigger.COMMAND, kinds: list[str] | None = None
) -> list[SyncRun]:
    """Sync every enabled source of every kind (or of ``kinds``), one after another; a source whose sync is already
    active is skipped. Returns the finished syncs."""
    sources_ensure_defaults(kinds=kinds)
    done: list[SyncRun] = []
    for name, source_kind in registry.source_kinds().items():
        if kinds and name not in kinds:
            continue
        for source in source_kind.list_sources():
            if not source.enabled:
                continue
            try:
                done.append(sync_source(kind=name, source_id=source.id, full=full, trigger=trigger))
            except SyncAlreadyRunning as exc:
                logger.info("%s", exc)
    return done
