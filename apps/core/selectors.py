"""Reads owned by ``core``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import OuterRef, QuerySet, Subquery

from apps.core import registry
from apps.core.models import SyncRun
from apps.core.registry import SearchHit

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractUser, AnonymousUser


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


# Kinds of search hit in the order the results list them; kinds not named here come after, by first appearance.
SEARCH_KIND_ORDER = (
    "Model versions",
    "Models",
    "Runs",
    "Experiments",
    "Data versions",
    "Data paths",
    "Commits",
    "Tags",
)
SEARCH_LIMIT = 25


def search_grouped(
    query: str, user: AbstractUser | AnonymousUser, *, limit: int = SEARCH_LIMIT
) -> list[tuple[str, list[SearchHit]]]:
    """Every search provider's hits for ``query`` as ``(kind, hits)`` in ``SEARCH_KIND_ORDER``, at most ``limit``
    per kind; a page reached twice under one kind is listed once. Providers check the user's permissions
    themselves; an empty query finds nothing."""
    by_kind: dict[str, list[SearchHit]] = {}
    seen: set[tuple[str, str]] = set()
    if query:
        for _name, provider in registry.search_providers():
            for hit in provider(query, user, limit):
                if (hit.kind, hit.url) not in seen:
                    seen.add((hit.kind, hit.url))
                    by_kind.setdefault(hit.kind, []).append(hit)
    rank = {kind: index for index, kind in enumerate(SEARCH_KIND_ORDER)}
    kinds = sorted(by_kind, key=lambda kind: rank.get(kind, len(rank)))
    return [(kind, by_kind[kind][:limit]) for kind in kinds]
