"""Reads for a data version: its impact (every run and model version trained on it) and where it sits in its path's
history. A fixed number of queries whatever the number of rows."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from apps.dvc_sync.models import Commit, DataVersion, Pin
from apps.lineage.models import LineageLink
from apps.mlflow_sync.models import ModelVersion, Run

# -- data versions --------------------------------------------------------------------------------------------


def data_version_get(pk: int) -> DataVersion:
    return DataVersion.objects.select_related("source").get(pk=pk)


@dataclass
class ImpactRow:
    run: Run
    link: LineageLink
    versions: list[ModelVersion]

    @property
    def serving(self) -> list[ModelVersion]:
        """Its model versions that hold an alias or a Staging/Production stage now."""
        return [v for v in self.versions if v.aliases or v.stage in ("Staging", "Production")]


IMPACT_PAGE_SIZE = 50


@dataclass
class Impact:
    """One page of the runs trained on a data version (each with its model versions) and the counts and serving
    versions over all of them."""

    data_version: DataVersion
    page: Page[LineageLink]
    rows: list[ImpactRow]
    summary: ImpactSummary

    @property
    def serving(self) -> list[ModelVersion]:
        return self.summary.serving


def data_impact(dv: DataVersion, *, page: int | str | None = 1, per_page: int = IMPACT_PAGE_SIZE) -> Impact:
    """Page ``page`` (``per_page`` runs, most recently mirrored run first) of the runs trained on ``dv`` with their
    model versions, and ``data_impact_summary``: what the data version page and the API show. Six queries whatever
    the number of runs (the page's count and rows, the model versions, the summary's three)."""
    found = Paginator(data_impact_links(dv), per_page).get_page(page)
    rows = impact_rows(list(found.object_list))
    return Impact(data_version=dv, page=found, rows=rows, summary=data_impact_summary(dv))


# -- the data version page: where a version sits in its path's history, and what was trained on it ----------------


@dataclass(frozen=True)
class LaterVersion:
    """A version of the same path first pinned after the one shown, with that first commit and how many runs the
    join linked to it."""

    data_version: DataVersion
    first: Commit | None
    runs: int


@dataclass(frozen=True)
class DataTimeline:
    first: Commit | None  # the first commit, in history order, that pins the version
    last: Commit | None  # the last one
    commits: int  # how many mirrored commits pin it
    later: list[LaterVersion]


def data_version_timeline(dv: DataVersion) -> DataTimeline:
    """The first and last commits of ``dv``'s source that pin it (as an output or a dependency), how many do, and the
    versions of the same path first pinned after its first commit, oldest first. Five indexed queries: the path's
    versions, their pins, the commits holding those snapshots, then the commits and run counts shown."""
    versions = {d.pk: d for d in DataVersion.objects.filter(source_id=dv.source_id, path=dv.path)}
    snapshots_of: dict[int, set[int]] = {}  # snapshot id -> the path's data versions it pins
    for dv_id, snapshot_id in Pin.objects.filter(data_version_id__in=versions).values_list(
        "data_version_id", "snapshot_id"
    ):
        snapshots_of.setdefault(snapshot_id, set()).add(dv_id)
    first_of: dict[int, tuple[int, int]] = {}  # data version id -> (position, commit id) of its first pin
    mine: dict[int, int] = {}  # commit id -> position, for the commits pinning dv
    commits_query = Commit.objects.filter(source_id=dv.source_id, snapshot_id__in=list(snapshots_of))
    for commit_id, position, snapshot_id in commits_query.values_list("pk", "position", "snapshot_id"):
        for dv_id in snapshots_of.get(snapshot_id, ()):
            if (position, commit_id) < first_of.get(dv_id, (position + 1, 0)):
                first_of[dv_id] = (position, commit_id)
            if dv_id == dv.pk:
                mine[commit_id] = position
    start = first_of.get(dv.pk)
    later_ids = [
        pk for pk, (position, _) in sorted(first_of.items(), key=lambda kv: kv[1]) if start and position > start[0]
    ]
    first_id = min(mine, key=lambda pk: (mine[pk], pk)) if mine else None
    last_id = max(mine, key=lambda pk: (mine[pk], pk)) if mine else None
    commit_ids = {pk for pk in (first_id, last_id, *(first_of[dv_id][1] for dv_id in later_ids)) if pk is not None}
    commits = {c.pk: c for c in Commit.objects.filter(pk__in=commit_ids)} if commit_ids else {}
    runs = (
        dict(
            LineageLink.objects.filter(data_version_id__in=later_ids)
            .values("data_version_id")
            .annotate(n=Count("run_id", distinct=True))
            .values_list("data_version_id", "n")
        )
        if later_ids
        else {}
    )
    return DataTimeline(
        first=commits.get(first_id) if first_id else None,
        last=commits.get(last_id) if last_id else None,
        commits=len(mine),
        later=[
            LaterVersion(data_version=versions[pk], first=commits.get(first_of[pk][1]), runs=runs.get(pk, 0))
            for pk in later_ids
            if pk in versions
        ],
    )


def data_impact_links(dv: DataVersion) -> QuerySet[LineageLink]:
    """The links of every run trained on ``dv``, most recently mirrored run first (the order of the
    ``(data_version, run)`` index, so a page is read without sorting), with the shown columns of the run, its lineage
    and experiment and the link's commit: what the data version page pages through (``impact_rows`` adds the model
    versions)."""
    return (
        LineageLink.objects.filter(data_version=dv)
        .select_related("run", "run__lineage", "run__experiment", "commit")
        .only(*IMPACT_COLUMNS)
        .order_by("-run_id", "-pk")
    )


IMPACT_COLUMNS = (
    "run_id", "data_version_id", "evidence", "detail", "stage", "commit__sha",
    "run__run_id", "run__name", "run__start_time", "run__experiment__name",
    "run__lineage__verdict", "run__lineage__run_id",
)  # fmt: skip


def impact_rows(links: list[LineageLink]) -> list[ImpactRow]:
    """One ``ImpactRow`` per link with its run's model versions (not deleted), newest version first. One query."""
    versions: dict[int, list[ModelVersion]] = {}
    query = ModelVersion.objects.filter(run_id__in={link.run_id for link in links}, deleted=False)
    for version in query.select_related("model").order_by("model__name", "-version"):
        versions.setdefault(version.run_id or 0, []).append(version)
    return [ImpactRow(run=link.run, link=link, versions=versions.get(link.run_id, [])) for link in links]


@dataclass(frozen=True)
class ImpactSummary:
    runs: int
    model_versions: int
    serving: list[ModelVersion]  # the versions holding an alias or a Staging/Production stage now (with verdicts)


def data_impact_summary(dv: DataVersion) -> ImpactSummary:
    """How many runs and model versions were trained on ``dv`` (whatever page of them is shown), and which of those
    versions serve now. Three queries, each read from the ``(data_version, run)`` index: a distinct count of the
    links' runs, and the model versions (few) whose run has a link to ``dv``."""
    trained = Exists(LineageLink.objects.filter(data_version=dv, run_id=OuterRef("run_id")))
    runs = LineageLink.objects.filter(data_version=dv).values("run_id").distinct().count()
    versions = ModelVersion.objects.filter(trained, deleted=False)
    serving = (
        versions.filter(Q(stage__in=["Staging", "Production"]) | ~Q(aliases=[]))
        .select_related("model", "source", "run", "run__lineage")
        .order_by("model__name", "-version")
    )
    return ImpactSummary(runs=runs, model_versions=versions.count(), serving=list(serving))
