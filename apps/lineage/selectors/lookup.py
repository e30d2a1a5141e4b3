"""Reads behind the lineage search provider: model versions, data versions and tags matching a query."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db.models import Count, Q

from apps.dvc_sync.models import ArtifactEvent, DataVersion, Ref
from apps.lineage.join import plain_md5
from apps.lineage.models import LineageLink
from apps.lineage.selectors.comparison import VERSION_REF
from apps.lineage.selectors.versions import with_verdicts
from apps.mlflow_sync.models import ModelVersion, Run

# -- search --------------------------------------------------------------------------------------------------------

_HEX = re.compile(r"[0-9a-f]+")


def _hex_prefix(text: str, minimum: int = 4) -> str:
    """``text`` lower-cased when it is at least ``minimum`` hex digits (an md5, sha or run id prefix), else ""."""
    value = text.strip().lower()
    return value if len(value) >= minimum and _HEX.fullmatch(value) else ""


def model_version_search(text: str, *, limit: int = 25) -> list[ModelVersion]:
    """Model versions for what a user typed: a model name (or part of it) for all its versions, ``name v3``,
    ``name/3`` or ``name 3`` for one, a bare ``3``/``v3`` for that number of every model, or a run id prefix (8 hex
    or more) for the versions of that run. Newest first per model, with verdicts. One query."""
    text = text.strip()
    if not text:
        return []
    match = Q(model__name__icontains=text)
    if found := VERSION_REF.fullmatch(text):
        match |= Q(model__name__icontains=found["name"].strip(), version=int(found["version"]))
    if bare := re.fullmatch(r"v?(\d{1,9})", text, re.IGNORECASE):
        match |= Q(version=int(bare[1]))
    if run_id := _hex_prefix(text, 8):
        match |= Q(mlflow_run_id__startswith=run_id)
    query = with_verdicts(ModelVersion.objects.filter(match, deleted=False, model__deleted=False))
    return list(query.order_by("model__name", "-version")[:limit])


def data_version_search(text: str, *, limit: int = 25) -> list[tuple[DataVersion, int]]:
    """Data versions whose hash starts with ``text`` (4 hex digits or more) or whose path contains it, each with how
    many runs were trained on it. Two queries (the counts only for the versions found)."""
    text = text.strip()
    if not text:
        return []
    match = Q(path__icontains=text)
    if md5 := _hex_prefix(plain_md5(text)):
        match |= Q(hash_value__startswith=md5)
    found = list(
        DataVersion.objects.filter(match).select_related("source").order_by("path", "source__name", "-pk")[:limit]
    )
    runs = dict(
        LineageLink.objects.filter(data_version__in=found)
        .values("data_version_id")
        .annotate(n=Count("run_id", distinct=True))
        .values_list("data_version_id", "n")
    )
    return [(dv, runs.get(dv.pk, 0)) for dv in found]


@dataclass(frozen=True)
class TagHit:
    """A tag matching a search: an MLflow run tag (``key=value`` with how many runs carry it), a git tag or a GTO
    tag (``name``, with the source and the commit it points to)."""

    kind: str  # "run" | "git" | "gto"
    name: str
    source: str
    sha: str = ""
    runs: int = 0
    key: str = ""
    value: str = ""
    detail: str = ""


def run_tag_search(text: str, *, limit: int = 25, scan: int = 500) -> list[TagHit]:
    """Run tags (not MLflow's own ``mlflow.*``) whose key or value contains ``text`` (2 characters or more), one hit
    per key and value with how many of the newest ``scan`` matching runs carry it. One query."""
    needle = text.strip().lower()
    if len(needle) < 2:
        return []
    counts: dict[tuple[str, str], int] = {}
    query = Run.objects.filter(deleted=False, tags__icontains=needle).order_by("-start_time")
    for tags in query.values_list("tags", flat=True)[:scan]:
        for key, value in (tags or {}).items():
            if key.startswith("mlflow.") or (needle not in key.lower() and needle not in str(value).lower()):
                continue
            counts[(key, str(value))] = counts.get((key, str(value)), 0) + 1
    hits = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return [TagHit(kind="run", name=f"{k}={v}", source="", runs=n, key=k, value=v) for (k, v), n in hits]


def git_tag_search(text: str, *, limit: int = 25) -> list[TagHit]:
    """Git tags and GTO tags whose name contains ``text`` (2 characters or more). Two queries."""
    needle = text.strip()
    if len(needle) < 2:
        return []
    gto = {
        (event.source.name, event.tag): event
        for event in ArtifactEvent.objects.filter(tag__icontains=needle).select_related("source")[:limit]
    }
    hits = []
    refs = Ref.objects.filter(kind=Ref.Kind.TAG, name__icontains=needle).select_related("source")
    for ref in refs.order_by("name", "source__name")[:limit]:
        event = gto.pop((ref.source.name, ref.name), None)
        detail = f"GTO: {event.get_action_display()} {event.artifact}" if event else ""
        hits.append(TagHit(kind="gto" if event else "git", name=ref.name, source=ref.source.name, sha=ref.sha,
                           detail=detail))  # fmt: skip
    for (source, tag), event in sorted(gto.items()):
        hits.append(TagHit(kind="gto", name=tag, source=source, sha=event.sha,
                           detail=f"GTO: {event.get_action_display()} {event.artifact}"))  # fmt: skip
    return hits[:limit]
