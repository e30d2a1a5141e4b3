"""Reads of the DVC mirror: commits, data versions and pipelines as pages, commands and other apps ask for them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import BooleanField, Count, ExpressionWrapper, F, Max, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from apps.core.errors import AppError
from apps.core.models import SyncRun
from apps.core.selectors import syncrun_latest_per_source
from apps.dvc_sync.graphs import Pipeline, graph_from_json
from apps.dvc_sync.models import ArtifactEvent, ArtifactStage, Commit, DataVersion, DvcSource, Pin, Ref


class RevisionNotFound(AppError):
    """A revision that names no mirrored commit of the source."""


def _is_sha_prefix(text: str) -> bool:
    """Enough hex characters to stand for a commit sha or an md5."""
    return len(text) >= 4 and all(c in "0123456789abcdef" for c in text.lower())


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
    if _is_sha_prefix(rev):
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
    return Pipeline(stages=graph_from_json(snapshot.graph.stages), outputs=graph_from_json(snapshot.graph.outputs))


def data_search(text: str, limit: int) -> QuerySet[DataVersion]:
    """Data versions whose path contains ``text`` or whose hash starts with it (an md5 prefix)."""
    text = text.strip()
    if not text:
        return DataVersion.objects.none()
    query = DataVersion.objects.select_related("source")
    if _is_sha_prefix(text):
        by_hash = query.filter(hash_value__startswith=text.lower())
        if by_hash.exists():
            return by_hash.order_by("path")[:limit]
    return query.filter(path__icontains=text).order_by("path", "-pk")[:limit]


def commit_search(text: str, limit: int) -> QuerySet[Commit]:
    """Commits whose sha starts with ``text`` (at least 4 hex characters)."""
    text = text.strip().lower()
    if not _is_sha_prefix(text):
        return Commit.objects.none()
    return Commit.objects.filter(sha__startswith=text).select_related("source").order_by("-committed_at")[:limit]


def mirror_counts() -> dict[str, int]:
    return {
        "sources": DvcSource.objects.count(),
        "paths": DataVersion.objects.values("source", "path").distinct().count(),
        "data_versions": DataVersion.objects.count(),
    }


# --- pages ---------------------------------------------------------------------------------------------------------
def _unparseable(commits: QuerySet[Commit]) -> QuerySet[Commit]:
    """Commits that changed DVC files of which some did not load: the sync's "unparseable commits"."""
    return commits.filter(dvc_changed=True, snapshot__isnull=False).exclude(snapshot__problems=[])


def _has_problems() -> ExpressionWrapper:
    return ExpressionWrapper(Q(snapshot__isnull=False) & ~Q(snapshot__problems=[]), output_field=BooleanField())


def _count_per_source(rows: QuerySet[Any], of: str = "pk", *, distinct: bool = False) -> Coalesce:
    counted = rows.order_by().values("source").annotate(n=Count(of, distinct=distinct)).values("n")[:1]
    return Coalesce(Subquery(counted), 0)


@dataclass(frozen=True)
class SourceRow:
    source: DvcSource
    commits: int
    paths: int
    unparseable: int
    default_branch: str
    last_sync: SyncRun | None


def source_list() -> list[SourceRow]:
    """Every DVC source with its number of commits, tracked paths and unparseable commits, its default branch and
    its latest sync (None before the first). Two queries, however many sources."""
    mine = OuterRef("pk")
    sources = DvcSource.objects.annotate(
        commit_count=_count_per_source(Commit.objects.filter(source=mine)),
        path_count=_count_per_source(DataVersion.objects.filter(source=mine), "path", distinct=True),
        unparseable_count=_count_per_source(_unparseable(Commit.objects.filter(source=mine))),
        default_branch=Subquery(Ref.objects.filter(source=mine, is_default=True).values("name")[:1]),
    ).order_by("name")
    latest = syncrun_latest_per_source()
    return [
        SourceRow(
            source=s,
            commits=s.commit_count,
            paths=s.path_count,
            unparseable=s.unparseable_count,
            default_branch=s.default_branch or "",
            last_sync=latest.get(("dvc", s.pk)),
        )
        for s in sources
    ]


def source_last_sync(source: DvcSource) -> SyncRun | None:
    """The source's newest sync (queued, running or finished); None if it was never synced."""
    return SyncRun.objects.filter(kind="dvc", source_id=source.pk).order_by("-created_at", "-id").first()


def source_counts(source: DvcSource) -> dict[str, int]:
    """How many commits the mirror holds, how many changed DVC files, could not all be read, are no longer on a
    followed ref (force-pushed or deleted branch) or lack a parent (shallow clone). One query."""
    unparseable = Q(dvc_changed=True, snapshot__isnull=False) & ~Q(snapshot__problems=[])
    return Commit.objects.filter(source=source).aggregate(
        commits=Count("pk"),
        dvc_commits=Count("pk", filter=Q(dvc_changed=True)),
        unparseable=Count("pk", filter=unparseable),
        off_refs=Count("pk", filter=Q(on_refs=False)),
        missing_parents=Count("pk", filter=Q(parents_missing=True)),
    )


def source_head(source: DvcSource) -> Commit | None:
    """The newest commit of the default branch, or None before the first sync."""
    try:
        return commit_resolve(source)
    except RevisionNotFound:
        return None


def ref_list(source: DvcSource) -> list[Ref]:
    """Branches (the default first) then tags, by name."""
    return list(Ref.objects.filter(source=source).select_related("commit").order_by("kind", "-is_default", "name"))


def refs_by_commit(refs: list[Ref]) -> dict[int, list[Ref]]:
    """The refs grouped by the mirrored commit they point to (refs to commits the mirror lacks are left out)."""
    by_commit: dict[int, list[Ref]] = {}
    for ref in refs:
        if ref.commit_id is not None:
            by_commit.setdefault(ref.commit_id, []).append(ref)
    return by_commit


def commit_list(source: DvcSource) -> QuerySet[Commit]:
    """The source's commits, newest first in history order, each with ``has_problems`` (some DVC file did not
    load at it)."""
    return Commit.objects.filter(source=source).annotate(has_problems=_has_problems()).order_by("-position")


def commit_problem_list(source: DvcSource, limit: int = 50) -> list[Commit]:
    """The newest unparseable commits, with ``commit.snapshot.problems`` ([{path, line, message}]) loaded."""
    commits = _unparseable(Commit.objects.filter(source=source)).select_related("snapshot")
    fields = ["sha", "message", "position", "committed_at", "author_name", "source", "snapshot__problems"]
    return list(commits.only(*fields).order_by("-position")[:limit])


def commit_anomaly_list(source: DvcSource, limit: int = 50) -> list[Commit]:
    """The newest commits no followed ref reaches any more, or whose parents the clone lacks."""
    return list(Commit.objects.filter(source=source).filter(Q(on_refs=False) | Q(parents_missing=True))[:limit])


# --- tracked data and its history ----------------------------------------------------------------------------------
def tracked_data(commit: Commit, *, text: str = "") -> list[Pin]:
    """What the commit pins, one ``Pin`` (with its ``data_version``) per path, by path: the output pin where a
    path is both an output and a dependency. ``text`` keeps the paths that contain it. One query."""
    if commit.snapshot_id is None:
        return []
    pins = Pin.objects.filter(snapshot_id=commit.snapshot_id).select_related("data_version")
    if text:
        pins = pins.filter(data_version__path__icontains=text)
    by_path: dict[str, Pin] = {}
    for pin in pins.order_by("data_version__path", "-role", "stage"):  # "out" sorts after "dep"
        by_path.setdefault(pin.data_version.path, pin)
    return list(by_path.values())


def version_counts(source: DvcSource, paths: list[str]) -> dict[str, int]:
    """How many versions of each path the mirror knows, across the whole history. One query."""
    if not paths:
        return {}
    rows = DataVersion.objects.filter(source=source, path__in=paths).order_by().values("path").annotate(n=Count("pk"))
    return {row["path"]: row["n"] for row in rows}


@dataclass
class VersionRow:
    """One version of a path: the commits that pin it (first and last in history order, and how many) and the
    branches and tags whose tip pins it now; ``size_change`` against the version before it."""

    version: DataVersion
    first: Commit | None
    last: Commit | None
    commits: int
    refs: list[Ref] = field(default_factory=list)
    size_change: int | None = None
    kind: str = "version"

    @property
    def size_change_abs(self) -> int | None:
        return abs(self.size_change) if self.size_change is not None else None


@dataclass
class GapRow:
    """An unparseable commit within a path's history: what it pinned is unknown where its files did not load."""

    commit: Commit
    kind: str = "gap"

    @property
    def problems(self) -> list[dict[str, Any]]:
        return self.commit.snapshot.problems if self.commit.snapshot else []


def data_history(source: DvcSource, path: str) -> list[VersionRow | GapRow]:
    """The versions of ``path``, newest first (by the first commit that pins each), with the unparseable commits
    between the first and the last of them as gaps. Database only (pins → snapshots → commits), never git; four
    queries, however long the history. Empty when the mirror never saw the path."""
    versions = list(
        DataVersion.objects.filter(source=source, path=path).annotate(
            first_position=Min("pins__snapshot__commits__position"),
            last_position=Max("pins__snapshot__commits__position"),
            commit_count=Count("pins__snapshot__commits", distinct=True),
        )
    )
    if not versions:
        return []
    positions = {p for v in versions for p in (v.first_position, v.last_position) if p is not None}
    at = {c.position: c for c in Commit.objects.filter(source=source, position__in=positions)}
    refs: dict[int, list[Ref]] = {}
    for ref in (
        Ref.objects.filter(source=source, commit__snapshot__pins__data_version__in=versions)
        .annotate(pinned=F("commit__snapshot__pins__data_version"))
        .order_by("kind", "name")
        .distinct()
    ):
        refs.setdefault(ref.pinned, []).append(ref)
    never = float("inf")
    versions.sort(key=lambda v: (v.first_position if v.first_position is not None else never, v.pk))
    rows: list[VersionRow | GapRow] = []
    previous: int | None = None
    for v in versions:
        change = v.size - previous if v.size is not None and previous is not None else None
        rows.append(
            VersionRow(
                version=v,
                first=at.get(v.first_position),
                last=at.get(v.last_position),
                commits=v.commit_count,
                refs=refs.get(v.pk, []),
                size_change=change,
            )
        )
        previous = v.size if v.size is not None else previous
    if positions:
        gaps = _unparseable(
            Commit.objects.filter(source=source, position__gte=min(positions), position__lte=max(positions))
        ).select_related("snapshot")
        rows += [GapRow(commit=c) for c in gaps.only(*_GAP_FIELDS)]

    def newest_first(row: VersionRow | GapRow) -> float:
        if isinstance(row, GapRow):
            return row.commit.position + 0.5  # a gap at a version's first commit is shown above it
        return row.first.position if row.first else -1

    return sorted(rows, key=newest_first, reverse=True)


_GAP_FIELDS = ["sha", "message", "position", "committed_at", "source", "snapshot__problems"]


# --- one commit ----------------------------------------------------------------------------------------------------
def commit_refs(commit: Commit) -> list[Ref]:
    """The branches and tags pointing at the commit now."""
    return list(Ref.objects.filter(commit=commit).order_by("kind", "name"))


def commit_parents(commit: Commit) -> list[tuple[str, Commit | None]]:
    """The commit's parent shas, each with its mirrored commit (None where the mirror lacks it). One query."""
    known = {c.sha: c for c in Commit.objects.filter(source_id=commit.source_id, sha__in=commit.parents)}
    return [(sha, known.get(sha)) for sha in commit.parents]


def commit_pins(commit: Commit) -> list[Pin]:
    """Every pin of the commit's snapshot (outputs before dependencies of the same path), with its data version."""
    if commit.snapshot_id is None:
        return []
    pins = Pin.objects.filter(snapshot_id=commit.snapshot_id).select_related("data_version")
    return list(pins.order_by("data_version__path", "-role", "stage"))


def stage_get(commit: Commit, address: str) -> dict[str, Any] | None:
    """A stage as the commit's ``dvc.yaml``/``dvc.lock`` or ``.dvc`` file describes it; None if none is so named."""
    snapshot = commit.snapshot
    if snapshot is None or address not in snapshot.stages:
        return None
    return dict(snapshot.stages[address])


def stage_imports(commit: Commit, address: str) -> list[Pin]:
    """Where the stage's outputs were imported from (``dvc import``/``import-url``); empty for other stages."""
    if commit.snapshot_id is None:
        return []
    return list(
        Pin.objects.filter(snapshot_id=commit.snapshot_id, stage=address, role=Pin.Role.OUT)
        .exclude(import_url="")
        .select_related("data_version")
    )


# --- the pipeline ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PipelineData:
    """What the pipeline page draws: the graph (``{"nodes", "edges"}``, as ``dvc dag`` or ``dvc dag --outs``), the
    stages as the snapshot describes them, and for each output path its pinned version (plain dicts)."""

    graph: dict[str, Any]
    stages: dict[str, Any]
    outputs: dict[str, dict[str, Any]]


def pipeline_data(commit: Commit, *, outputs: bool) -> PipelineData | None:
    """The commit's pipeline for drawing; None when its DVC files did not load into a graph. One query."""
    snapshot = commit.snapshot
    if snapshot is None or snapshot.graph is None:
        return None
    pinned = {
        pin.data_version.path: {
            "hash_name": pin.data_version.hash_name,
            "hash_value": pin.data_version.hash_value,
            "size": pin.data_version.size,
            "nfiles": pin.data_version.nfiles,
            "isdir": pin.data_version.isdir,
            "stage": pin.stage,
            "import_url": pin.import_url,
            "import_rev": pin.import_rev,
            "import_rev_lock": pin.import_rev_lock,
        }
        for pin in tracked_data(commit)
        if pin.role == Pin.Role.OUT
    }
    graph = snapshot.graph.outputs if outputs else snapshot.graph.stages
    return PipelineData(graph=graph, stages=snapshot.stages, outputs=pinned)


# --- GTO registry --------------------------------------------------------------------------------------------------
@dataclass
class ArtifactRow:
    """An artifact: as ``artifacts:`` in ``dvc.yaml`` at the default branch declares it (``declared``), with the
    versions GTO tags registered and the stages they are assigned to now."""

    name: str
    info: dict[str, Any]
    declared: bool
    stages: list[ArtifactStage] = field(default_factory=list)
    versions: list[tuple[str, datetime]] = field(default_factory=list)


def artifact_list(source: DvcSource, head: Commit | None) -> list[ArtifactRow]:
    """Artifacts declared at ``head`` or named by GTO tags, by name, with current stages and registered versions.
    Two queries."""
    declared: dict[str, Any] = dict(head.snapshot.artifacts) if head is not None and head.snapshot else {}
    rows = {name: ArtifactRow(name=name, info=info or {}, declared=True) for name, info in declared.items()}
    for stage in ArtifactStage.objects.filter(source=source).order_by("artifact", "stage"):
        rows.setdefault(stage.artifact, ArtifactRow(name=stage.artifact, info={}, declared=False)).stages.append(stage)
    registered = ArtifactEvent.objects.filter(source=source, action=ArtifactEvent.Action.REGISTER)
    for name, version, when in registered.order_by("-created_at").values_list("artifact", "version", "created_at"):
        rows.setdefault(name, ArtifactRow(name=name, info={}, declared=False)).versions.append((version, when))
    return [rows[name] for name in sorted(rows)]


def artifact_event_list(source: DvcSource) -> QuerySet[ArtifactEvent]:
    """GTO's history of the source's artifacts, newest first."""
    return ArtifactEvent.objects.filter(source=source).order_by("-created_at", "tag")


# -- retrievability (the promotion gate "data retrievable") --------------------------------------------------------


@dataclass(frozen=True)
class Retrieval:
    """Whether a data version can be pulled from a remote an admin configured: ``present`` (in at least one),
    ``missing`` (every configured remote answered and none holds it) or ``unverifiable`` (no remote configured,
    a credential variable unset, or a remote that could not be checked), with the reason in ``detail``."""

    status: str
    detail: str


def data_versions_retrievable(data_versions: list[DataVersion]) -> dict[int, Retrieval]:
    """Check each data version against its source's enabled ``DvcRemote`` rows (only those: never a remote named in
    the repository). Talks to the remotes; raises nothing: a remote that cannot be checked makes its data
    ``unverifiable``."""
    import os

    from apps.dvc_sync.client import RemoteUnverifiable, remote_objects_present
    from apps.dvc_sync.models import DvcRemote

    results: dict[int, Retrieval] = {}
    by_source: dict[int, list[DataVersion]] = {}
    for dv in data_versions:
        by_source.setdefault(dv.source_id, []).append(dv)
    remotes: dict[int, list[DvcRemote]] = {}
    for remote in DvcRemote.objects.filter(source_id__in=by_source, enabled=True).order_by("name"):
        remotes.setdefault(remote.source_id, []).append(remote)
    for source_id, versions in by_source.items():
        configured = remotes.get(source_id, [])
        if not configured:
            name = versions[0].source.name
            for dv in versions:
                results[dv.pk] = Retrieval(
                    "unverifiable",
                    f"No DVC remote is configured on DVC source '{name}' for this check (admin → DVC sources).",
                )
            continue
        present: dict[int, str] = {}
        unsure: dict[int, list[str]] = {}
        for remote in configured:
            options = dict(remote.options or {})
            unset = [var for var in (remote.credential_env or {}).values() if var not in os.environ]
            if unset:
                for dv in versions:
                    unsure.setdefault(dv.pk, []).append(f"{remote.name}: ${', $'.join(unset)} not set")
                continue
            options.update({opt: os.environ[var] for opt, var in (remote.credential_env or {}).items()})
            wanted = [dv for dv in versions if dv.pk not in present]
            try:
                found = remote_objects_present(remote.url, options, [dv.hash_value for dv in wanted])
            except RemoteUnverifiable as exc:
                for dv in wanted:
                    unsure.setdefault(dv.pk, []).append(f"{remote.name}: {exc.message}")
                continue
            for dv in wanted:
                if found.get(dv.hash_value):
                    present[dv.pk] = remote.name
        for dv in versions:
            if dv.pk in present:
                results[dv.pk] = Retrieval("present", f"in remote '{present[dv.pk]}'")
            elif dv.pk in unsure:
                results[dv.pk] = Retrieval("unverifiable", "; ".join(unsure[dv.pk]))
            else:
                names = ", ".join(r.name for r in configured)
                results[dv.pk] = Retrieval("missing", f"not in remote{'s' if len(configured) > 1 else ''} {names}")
    return results
