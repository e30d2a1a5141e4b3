"""How ``core`` reaches the DVC mirror: the ``dvc`` source kind, search and overview providers."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.urls import reverse

from apps.audit.context import Actor
from apps.core.errors import SourceError
from apps.core.registry import OverviewStat, Progress, SearchHit, SourceKind, SourceRef
from apps.dvc_sync import selectors, services
from apps.dvc_sync.models import DvcSource


def _ref(source: DvcSource) -> SourceRef:
    return SourceRef(kind="dvc", id=source.pk, name=source.name, location=source.location, enabled=source.enabled)


def list_sources() -> list[SourceRef]:
    return [_ref(s) for s in DvcSource.objects.order_by("name")]


def get_source(name: str) -> SourceRef:
    source = DvcSource.objects.filter(name=name).first()
    if source is None:
        raise SourceError(f"No DVC source named '{name}'.", hint="List them in the admin or add one with add_source.")
    return _ref(source)


def sync(source_id: int, *, full: bool, progress: Progress) -> dict[str, int]:
    return services.dvc_source_sync(source_id, full=full, progress=progress)


def add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--root", default="", help="dvc: the DVC subproject's folder inside the repository")
    parser.add_argument(
        "--ref", action="append", default=[], dest="refs", help="dvc: a branch or tag (pattern) to follow; repeatable"
    )
    parser.add_argument(
        "--web-url",
        default="",
        help="dvc: base URL of the repository's web UI (commit links), e.g. https://github.com/org/repo",
    )


def add_source(name: str, location: str, **options: Any) -> tuple[SourceRef, bool]:
    source, created = services.dvc_source_add(
        name=name,
        location=location,
        root=options.get("root") or "",
        refs=options.get("refs") or (),
        web_url=options.get("web_url") or "",
        actor=Actor.cli(),
    )
    return _ref(source), created


KIND = SourceKind(
    name="dvc",
    label="DVC",
    list_sources=list_sources,
    get_source=get_source,
    sync=sync,
    add_source=add_source,
    add_arguments=add_arguments,
)


def search(text: str, user: AbstractUser | AnonymousUser, limit: int) -> list[SearchHit]:
    if not user.has_perm("dvc_sync.view_dataversion"):
        return []
    hits = [
        SearchHit(
            kind="Data paths",
            title=dv.path,
            url=reverse("dvc_sync:data_history", args=[dv.source.name]) + "?" + urlencode({"path": dv.path}),
            detail=f"{dv.source.name} · {dv.hash_name or 'md5'} {dv.short_hash}",
        )
        for dv in selectors.data_search(text, limit)
    ]
    hits += [
        SearchHit(
            kind="Commits",
            title=f"{c.short_sha} {c.summary}",
            url=reverse("dvc_sync:commit_detail", args=[c.source.name, c.sha]),
            detail=f"{c.source.name} · {c.author_name} · {c.committed_at:%Y-%m-%d}",
        )
        for c in selectors.commit_search(text, limit)
    ]
    return hits


def overview() -> list[OverviewStat]:
    counts = selectors.mirror_counts()
    return [
        OverviewStat("DVC repositories", counts["sources"], reverse("dvc_sync:source_list")),
        OverviewStat("Tracked paths", counts["paths"], reverse("dvc_sync:source_list")),
        OverviewStat("Data versions", counts["data_versions"], reverse("dvc_sync:source_list")),
    ]
