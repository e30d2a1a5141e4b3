"""Reads owned by ``core``."""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery

from apps.core.models import SyncRun


def syncrun_latest() -> SyncRun | None:
    """The most recent sync of any source (the one the header shows), or None before the first sync."""
    return SyncRun.objects.order_by("-created_at", "-id").first()


def syncrun_list(*, kind: str | None = None, status: str | None = None) -> QuerySet[SyncRun]:
    """Syncs, newest first, optionally of one kind and status."""
    qs = SyncRun.objects.order_by("-created_at", "-id")
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    return qs


def syncrun_latest_per_source() -> dict[tuple[str, int], SyncRun]:
    """The newest sync of each source, keyed by (kind, source id). One query, however old the sync."""
    newest = SyncRun.objects.filter(kind=OuterRef("kind"), source_id=OuterRef("source_id")).order_by(
        "-created_at", "-id"
    )
    runs = SyncRun.objects.filter(pk=Subquery(newest.values("pk")[:1]))
    return {(run.kind, run.source_id): run for run in runs}
