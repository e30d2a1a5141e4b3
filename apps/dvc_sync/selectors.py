"""Reads of the DVC mirror: commits, data versions and pipelines as pages, commands and other apps ask for them."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.core.errors import AppError
from apps.dvc_sync.graphs import Graph, Pipeline
from apps.dvc_sync.models import Commit, DataVersion, DvcSource, Ref


class RevisionNotFound(AppError):
    """A revision that names no mirrored commit of the source."""


def source_get(name: str) -> DvcSource:
    """The DVC source of that name; ``AppError`` naming the known ones otherwise."""
    source = DvcSource.objects.filter(name=name).first()
    if source is None:
        known = ", ".join(DvcSource.objects.values_list("name", flat=True)) or "none"
        raise AppError(f"No DVC source named '{name}'.", hint=f"Known DVC sources: {known}.")
    return source


def commit_resolve(source: DvcSource, rev: str | None = None) -> Commit:
    """The mirrored commit ``rev`` names: a branch, a tag, a full sha or a prefix of at least 4 characters; without
    ``rev``, the newest commit of the branch HEAD points to. Refuses (``RevisionNotFound``) a name the mirror does
    not know, an ambiguous prefix, and a source never synced."""
    commits = Commit.objects.filter(source=source).select_related("snapshot", "snapshot__graph")
    if not rev:
        ref = Ref.objects.filter(source=source, is_default=True).select_related("commit").first()
        if ref is None or ref.commit_id is None:
            raise RevisionNotFound(
                f"DVC source '{source.name}' has no mirrored default branch yet.",
                hint="Sync it first (manage.py sync_dvc), or name a revision with --rev.",
            )
        return commits.get(pk=ref.commit_id)
    ref = Ref.objects.filter(source=source, name=rev, commit__isnull=False).order_by("kind").first()
    if ref is not None and ref.commit_id is not None:
        return commits.get(pk=ref.commit_id)
    if len(rev) >= 4 and all(c in "0123456789abcdef" for c in rev.lower()):
        found = list(commits.filter(sha__startswith=rev.lower())[:2])
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise RevisionNotFound(f"'{rev}' is ambiguous in '{source.name}'.", hint="Give more characters of the sha.")
    raise RevisionNotFound(
        f"No mirrored commit, branch or tag '{rev}' in DVC source '{source.name}'.",
        hint="Sync the source, or check the name (branches and tags the source follows, or a commit sha).",
    )


def pipeline_of(commit: Commit) -> Pipeline | None:
    """The commit's pipeline as the mirror holds it; None when its DVC files did not load into a graph."""
    snapshot = commit.snapshot
    if snapshot is None or snapshot.graph is None:
        return None
    graph = snapshot.graph

    def read(data: dict) -> Graph:  # type: ignore[type-arg]
        return Graph(nodes=frozenset(data.get("nodes", [])), edges=frozenset(tuple(e) for e in data.get("edges", [])))

    return Pipeline(stages=read(graph.stages), outputs=read(graph.outputs))


def data_search(text: str, limit: int) -> QuerySet[DataVersion]:
    """Data versions whose path contains ``text`` or whose hash starts with it (an md5 prefix)."""
    text = text.strip()
    if not text:
        return DataVersion.objects.none()
    query = DataVersion.objects.select_related("source")
    if len(text) >= 4 and all(c in "0123456789abcdef" for c in text.lower()):
        by_hash = query.filter(hash_value__startswith=text.lower())
        if by_hash.exists():
            return by_hash.order_by("path")[:limit]
    return query.filter(path__icontains=text).order_by("path", "-pk")[:limit]


def commit_search(text: str, limit: int) -> QuerySet[Commit]:
    """Commits whose sha starts with ``text`` (at least 4 hex characters)."""
    text = text.strip().lower()
    if len(text) < 4 or not all(c in "0123456789abcdef" for c in text):
        return Commit.objects.none()
    return Commit.objects.filter(sha__startswith=text).select_related("source").order_by("-committed_at")[:limit]


def mirror_counts() -> dict[str, int]:
    return {
        "sources": DvcSource.objects.count(),
        "paths": DataVersion.objects.values("source", "path").distinct().count(),
        "data_versions": DataVersion.objects.count(),
    }
