"""Reads owned by ``core``."""

from __future__ import annotations

from django.db.models import QuerySet

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
    """The newest sync of each source, keyed by (kind, source id). One query."""
    latest: dict[tuple[str, int], SyncRun] = {}
    # Newest first, so the first row seen per source wins; bounded by the sources' recent history.
    for run in SyncRun.objects.order_by("-created_at", "-id")[:500]:
        latest.setdefault((run.kind, run.source_id), run)
    return latest
