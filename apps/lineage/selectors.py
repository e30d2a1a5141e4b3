"""Reads of the lineage app: a model version's or run's lineage (links, verdict, graph) and a data version's impact.

Every selector runs a fixed number of queries whatever the number of links, runs or versions it returns.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import networkx as nx
from django.core.paginator import Page, Paginator
from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, QuerySet, TextField, Value, When
from django.db.models.functions import Cast
from django.urls import reverse

from apps.core.errors import AppError
from apps.dvc_sync.models import ArtifactEvent, Commit, DataVersion, DvcSource, Pin, Ref
from apps.lineage import compare
from apps.lineage import graph as lineage_graph
from apps.lineage.join import plain_md5
from apps.lineage.models import LineageLink, RunLineage, Verdict
from apps.mlflow_sync.models import ModelVersion, RegisteredModel, Run

# Metrics a hover or summary shows first when a run has them; otherwise the first by name.
KEY_METRICS = ("roc_auc", "auc", "f1", "accuracy", "precision", "recall", "rmse", "mae", "r2", "loss")


def key_metric(metrics: dict[str, float]) -> tuple[str, float] | None:
    """The run's most telling metric: the first of ``KEY_METRICS`` it has (also as ``test_…``/``val_…``)."""
    for name in KEY_METRICS:
        for key in (name, f"test_{name}", f"val_{name}", f"training_{name}"):
            if key in metrics:
                return key, metrics[key]
    if metrics:
        first = sorted(metrics)[0]
        return first, metrics[first]
    return None


# -- model versions -------------------------------------------------------------------------------------------


def model_version_get(*, name: str, version: int, source: str = "") -> ModelVersion:
    """The model version ``name`` v``version`` (in the MLflow source named ``source`` when several sources have a
    model of that name). Raises ``ModelVersion.DoesNotExist``."""
    query = ModelVersion.objects.select_related("model", "source", "run", "run__lineage", "run__experiment").filter(
        model__name=name, version=version, deleted=False
    )
    if source:
        query = query.filter(source__name=source)
    found = query.order_by("source__name").first()
    if found is None:
        raise ModelVersion.DoesNotExist(f"No version {version} of model {name!r}.")
    return found


def model_version_by_alias(*, name: str, alias: str) -> ModelVersion:
    """The version of model ``name`` holding ``alias`` now, as the last sync saw it. Raises
    ``ModelVersion.DoesNotExist`` when no version holds it."""
    model = RegisteredModel.objects.filter(name=name, deleted=False).order_by("source__name").first()
    if model is None or alias not in (model.aliases or {}):
        raise ModelVersion.DoesNotExist(f"No version of model {name!r} holds alias {alias!r}.")
    return model_version_get(name=name, version=int(model.aliases[alias]), source=model.source.name)


@dataclass(frozen=True)
class VerdictView:
    verdict: str
    problems: list[str]


def version_verdict(version: ModelVersion) -> VerdictView:
    """The model version's verdict: its run's, or ``gaps`` when the run is unknown or not joined yet. Expects
    ``run__lineage`` selected."""
    if version.run is None:
        if version.mlflow_run_id:
            why = f"Its run {version.mlflow_run_id} is not in the mirror (deleted, or in another tracking server)."
        else:
            why = "MLflow records no run for this model version."
        return VerdictView(Verdict.GAPS, [why])
    lineage = getattr(version.run, "lineage", None)
    if lineage is None:
        return VerdictView(Verdict.GAPS, ["The run has not been joined with DVC yet: sync, or run rebuild_lineage."])
    return VerdictView(lineage.verdict, list(lineage.problems))


def with_verdicts(versions: QuerySet[ModelVersion]) -> QuerySet[ModelVersion]:
    return versions.select_related("model", "source", "run", "run__lineage")


# -- runs -----------------------------------------------------------------------------------------------------


def run_links(run: Run) -> list[LineageLink]:
    """The run's links, strongest evidence first within the stored order, with their data versions and commits."""
    return list(
        LineageLink.objects.filter(run=run).select_related("data_version", "commit", "dvc_source").order_by("position")
    )


LINK_COLUMNS = (
    "run_id", "data_version_id", "path", "md5", "size", "repo", "stage", "evidence", "detail", "position",
    "commit__sha", "dvc_source__name", "dvc_source__web_url",
)  # fmt: skip


def run_links_shown(run: Run, *, limit: int | None = 50) -> tuple[list[LineageLink], int]:
    """The run's first ``limit`` links (all when ``None``): those with a conflict or missing data first, then the
    rest, each group in the stored order (strongest evidence first); only the columns the page shows, with their
    commits' shas and sources. And how many links the run has. Two queries (one when ``limit`` is ``None``)."""
    text = Cast("evidence", TextField())
    weak = Case(
        When(Q(evidence_text__contains='"conflict"') | Q(evidence_text__contains='"missing"'), then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    query: QuerySet[LineageLink] = (
        LineageLink.objects.filter(run=run)
        .select_related("commit", "dvc_source")
        .only(*LINK_COLUMNS)
        .annotate(evidence_text=text)
        .annotate(weak=weak)
        .order_by("weak", "position", "pk")
    )
    if limit is None:
        links = list(query)
        return links, len(links)
    links = list(query[:limit])
    total = len(links) if len(links) < limit else LineageLink.objects.filter(run=run).count()
    return links, total


def run_lineage(run: Run) -> RunLineage | None:
    return RunLineage.objects.select_related("commit", "lock_commit", "dvc_source").filter(run=run).first()


def data_version_url(dv_id: int | None) -> str:
    return reverse("lineage:data_version", args=[dv_id]) if dv_id else ""


def model_version_url(version: ModelVersion) -> str:
    return reverse("lineage:model_version", args=[version.model.name, version.version])


def _stage_url(source: DvcSource | None, commit: Commit | None, address: str) -> str:
    if source is None or commit is None:
        return ""
    query = urlencode({"rev": commit.sha, "address": address})
    return reverse("dvc_sync:stage_detail", args=[source.name]) + "?" + query


@dataclass
class LineageView:
    """Everything the model version page and the API show of a run's lineage."""

    run: Run | None
    lineage: RunLineage | None
    links: list[LineageLink]
    graph: nx.DiGraph
    versions: list[ModelVersion] = field(default_factory=list)


def lineage_view(run: Run | None, versions: list[ModelVersion]) -> LineageView:
    """The run's links and its graph (imports and raw data → stages → data versions → run → model versions)."""
    if run is None:
        graph = nx.DiGraph()
        for version in versions:
            graph.add_node(
                f"model:{version.pk}", kind=lineage_graph.MODEL, label=f"{version.model.name} v{version.version}",
                hover=[f"{version.model.name} v{version.version}", "run not in the mirror"],
                url=model_version_url(version),
            )  # fmt: skip
        return LineageView(run=None, lineage=None, links=[], graph=graph, versions=versions)
    lineage = run_lineage(run)
    links = run_links(run)
    lock = lineage.lock_commit if lineage else None
    stages = lock.snapshot.stages if lock is not None and lock.snapshot is not None else {}
    imports: dict[str, tuple[str, str]] = {}
    if lock is not None and lock.snapshot_id:
        for path, url, rev_lock in (
            Pin.objects.filter(snapshot_id=lock.snapshot_id, role=Pin.Role.OUT)
            .exclude(import_url="")
            .values_list("data_version__path", "import_url", "import_rev_lock")
        ):
            imports[path] = (url, rev_lock)
    # Data paths reached through the pipeline (not linked themselves) open the path's history in that source.
    source = lineage.dvc_source if lineage else None

    def data_url(path: str, md5: str) -> str:
        if source is None:
            return ""
        return reverse("dvc_sync:data_history", args=[source.name]) + "?" + urlencode({"path": path})

    metric = key_metric(run.metrics or {})
    run_hover = [f"run {run.name or run.run_id}", f"id {run.run_id}"]
    if metric:
        run_hover.append(f"{metric[0]} = {metric[1]:.4g}")
    if run.git_commit:
        run_hover.append(f"commit {run.git_commit[:10]}" + (" (dirty)" if lineage and lineage.dirty else ""))
    if lineage:
        run_hover.append(f"verdict: {lineage.verdict}")
    models = [
        (
            f"model:{v.pk}",
            f"{v.model.name} v{v.version}",
            [f"{v.model.name} v{v.version}", f"stage {v.stage}"]
            + ([f"aliases: {', '.join(v.aliases)}"] if v.aliases else []),
            model_version_url(v),
        )
        for v in versions
    ]
    spec = lineage_graph.GraphInput(
        run_key=f"run:{run.run_id}",
        run_label=run.name or run.run_id[:12],
        run_hover=run_hover,
        run_url=reverse("mlflow_sync:run_detail", args=[run.pk]),
        links=[
            lineage_graph.LinkInput(
                path=link.path,
                md5=link.md5,
                size=link.size,
                repo=link.repo,
                commit=link.commit.sha if link.commit else "",
                evidence=tuple(link.evidence),
                detail=link.detail,
                url=data_version_url(link.data_version_id),
            )
            for link in links
        ],  # fmt: skip
        stages=stages,
        training_stage=lineage.stage if lineage else "",
        imports=imports,
        models=models,
        stage_url=lambda address: _stage_url(source, lock, address),
        data_url=data_url,
        commit=lock.sha if lock else "",
    )
    return LineageView(run=run, lineage=lineage, links=links, graph=lineage_graph.build_graph(spec), versions=versions)


def version_lineage(version: ModelVersion) -> LineageView:
    """The lineage of a model version: its run's, drawn up to this version."""
    return lineage_view(version.run, [version])


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


def data_versions_by_md5(prefix: str, *, limit: int = 25) -> QuerySet[DataVersion]:
    """Data versions whose hash starts with ``prefix`` (at least 4 hex characters)."""
    text = plain_md5(prefix)
    if len(text) < 4:
        return DataVersion.objects.none()
    return DataVersion.objects.filter(hash_value__startswith=text).select_related("source").order_by("path")[:limit]


def lineage_gaps(*, limit: int = 20) -> list[ModelVersion]:
    """Model versions whose verdict is ``gaps`` or ``conflict`` (or whose run is unknown), newest first."""
    query = with_verdicts(
        ModelVersion.objects.filter(deleted=False).filter(
            Q(run__isnull=True)
            | Q(run__lineage__isnull=True)
            | Q(run__lineage__verdict__in=[Verdict.GAPS, Verdict.CONFLICT])
        )
    ).order_by("-creation_time")
    return list(query[:limit])


def models_overview() -> list[tuple[RegisteredModel, list[ModelVersion]]]:
    """Every registered model with its versions that hold an alias or a Staging/Production stage now. Two
    queries."""
    models = list(RegisteredModel.objects.filter(deleted=False).select_related("source").order_by("name"))
    serving = with_verdicts(
        ModelVersion.objects.filter(deleted=False, model__in=models).filter(
            Q(stage__in=["Staging", "Production"]) | ~Q(aliases=[])
        )
    ).order_by("model__name", "-version")
    by_model: dict[int, list[ModelVersion]] = {}
    for version in serving:
        by_model.setdefault(version.model_id, []).append(version)
    return [(model, by_model.get(model.pk, [])) for model in models]


def verdict_counts() -> dict[str, int]:
    """How many runs have each verdict, in the verdicts' order."""
    counts = dict(RunLineage.objects.values_list("verdict").annotate(n=Count("pk")).values_list("verdict", "n"))
    return {verdict: counts[verdict] for verdict in Verdict.values if counts.get(verdict)}


# -- the model version page, the run's lineage fragment and the home panel ------------------------------------


def model_version_sources(*, name: str, version: int) -> list[str]:
    """The names of the MLflow sources that hold version ``version`` of a model called ``name``, sorted (the page
    offers ``?source=`` when there are several). One query."""
    return list(
        ModelVersion.objects.filter(model__name=name, version=version, deleted=False)
        .order_by("source__name")
        .values_list("source__name", flat=True)
        .distinct()
    )


def model_version_numbers(*, name: str, source: str = "", limit: int = 50) -> list[int]:
    """The version numbers of the model called ``name`` (in source ``source`` when given), newest first: what a
    "no such version" page offers instead. One query."""
    query = ModelVersion.objects.filter(model__name=name, deleted=False)
    if source:
        query = query.filter(source__name=source)
    return list(query.order_by("-version").values_list("version", flat=True).distinct()[:limit])


def run_get(pk: int) -> Run:
    """The run with its source, experiment and lineage. Raises ``Run.DoesNotExist``."""
    return Run.objects.select_related("source", "experiment", "lineage").get(pk=pk)


def run_model_versions(run: Run) -> list[ModelVersion]:
    """The model versions registered from ``run`` (not deleted), by model name and version. One query."""
    return list(
        ModelVersion.objects.filter(run=run, deleted=False)
        .select_related("model", "source")
        .order_by("model__name", "version")
    )


def run_lineage_view(run: Run) -> LineageView:
    """The run's lineage drawn up to every model version registered from it."""
    return lineage_view(run, run_model_versions(run))


@dataclass(frozen=True)
class ServingVersion:
    """A model version in a serving slot, how it got there (``stage Production``, ``@production``) and its
    verdict."""

    version: ModelVersion
    how: list[str]
    verdict: VerdictView


@dataclass(frozen=True)
class ServingModel:
    """A registered model and its serving slots: ``Production`` and ``Staging`` always (empty when nothing holds
    them), then one ``@alias`` slot per other alias. ``source_query`` is ``?source=<name>`` when another MLflow
    source has a model of the same name (so links to its versions say which), else ""."""

    model: RegisteredModel
    slots: list[tuple[str, list[ServingVersion]]]
    source_query: str = ""

    @property
    def production(self) -> list[ServingVersion]:
        return self.slots[0][1]

    @property
    def staging(self) -> list[ServingVersion]:
        return self.slots[1][1]

    @property
    def others(self) -> list[ServingVersion]:
        return [holder for _, holders in self.slots[2:] for holder in holders]


SLOTS = (("Production", "production"), ("Staging", "staging"))


def models_serving() -> list[ServingModel]:
    """Every registered model with the versions in Production and Staging (by legacy stage or by the alias
    ``production``/``staging``) and under any other alias, each with its verdict. Two queries
    (``models_overview``)."""
    overview = models_overview()
    names = Counter(model.name for model, _ in overview)
    found: list[ServingModel] = []
    for model, versions in overview:
        slots: list[tuple[str, list[ServingVersion]]] = []
        for stage, alias in SLOTS:
            holders = []
            for version in sorted(versions, key=lambda v: -v.version):
                how = ([f"stage {stage}"] if version.stage == stage else []) + (
                    [f"@{alias}"] if alias in (version.aliases or []) else []
                )
                if how:
                    holders.append(ServingVersion(version=version, how=how, verdict=version_verdict(version)))
            slots.append((stage, holders))
        others = sorted(
            {(alias, v.pk): v for v in versions for alias in (v.aliases or [])
             if alias not in dict(SLOTS).values()}.items(),
            key=lambda item: (item[0][0], -item[1].version),
        )  # fmt: skip
        for (alias, _), version in others:
            slots.append(
                (f"@{alias}", [ServingVersion(version=version, how=[f"@{alias}"], verdict=version_verdict(version))])
            )
        query = "?" + urlencode({"source": model.source.name}) if names[model.name] > 1 else ""
        found.append(ServingModel(model=model, slots=slots, source_query=query))
    return found


def stage_page_url(source: DvcSource | None, commit: Commit | None, address: str) -> str:
    """The DVC stage page of ``address`` at ``commit``; "" without a source or commit."""
    return _stage_url(source, commit, address)


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


# -- compare two runs or model versions ----------------------------------------------------------------------------


class CompareRefError(AppError):
    """A compare reference that names no model version or run in the mirror, or does not parse."""


_VERSION_REF = re.compile(r"(?P<name>.+?)(?:\s*/\s*|\s+v?|\s*@\s*v?)(?P<version>\d{1,9})")


@dataclass
class CompareSide:
    """One side of a comparison: a model version (and its run) or a run, with the run's lineage and links."""

    ref: str
    run: Run | None
    version: ModelVersion | None
    lineage: RunLineage | None
    links: list[LineageLink]
    versions: list[ModelVersion]  # the run's model versions

    @property
    def label(self) -> str:
        if self.version is not None:
            return f"{self.version.model.name} v{self.version.version}"
        return self.run.name or self.run.run_id if self.run else self.ref

    @property
    def lock(self) -> Commit | None:
        """The commit whose ``dvc.lock`` describes the run (its own commit when no later one does)."""
        if self.lineage is None:
            return None
        return self.lineage.lock_commit or self.lineage.commit


def compare_ref(*, model: str, version: int) -> str:
    return f"mv:{model}/{version}"


def compare_side_get(ref: str) -> CompareSide:
    """The side ``ref`` names: ``mv:<model>/<version>`` (also ``<model>/<version>`` or ``<model> v<version>``) or
    ``run:<MLflow run id>`` (also a bare run id). Four queries. Raises ``CompareRefError`` naming what is unknown."""
    text = ref.strip()
    if not text:
        raise CompareRefError("Choose what to compare.")
    kind, _, rest = text.partition(":")
    version: ModelVersion | None = None
    if kind == "mv" or (kind != "run" and _VERSION_REF.fullmatch(text)):
        match = _VERSION_REF.fullmatch(rest.strip() if kind == "mv" else text)
        if match is None:
            raise CompareRefError(f"“{text}” is not a model version: write mv:<model>/<version>.")
        name, number = match["name"].strip(), int(match["version"])
        try:
            version = model_version_get(name=name, version=number)
        except ModelVersion.DoesNotExist:
            raise CompareRefError(f"No version {number} of model “{name}” in the mirror.") from None
        run = version.run
    else:
        run_id = (rest if kind == "run" else text).strip().lower()
        run = Run.objects.select_related("experiment").filter(run_id=run_id).order_by("deleted", "source__name").first()
        if run is None:
            raise CompareRefError(f"No run with id “{run_id}” in the mirror.")
    if run is None:
        return CompareSide(
            ref=text, run=None, version=version, lineage=None, links=[], versions=[version] if version else []
        )
    lineage = (
        RunLineage.objects.select_related("commit", "lock_commit__snapshot", "commit__snapshot", "dvc_source")
        .filter(run=run)
        .first()
    )
    versions = list(
        with_verdicts(ModelVersion.objects.filter(run=run, deleted=False)).order_by("model__name", "-version")
    )
    return CompareSide(ref=text, run=run, version=version, lineage=lineage, links=run_links(run), versions=versions)


@dataclass
class Comparison:
    a: CompareSide
    b: CompareSide
    params: list[compare.ValueDiff]
    metrics: list[compare.ValueDiff]
    data: list[compare.DataDiff]
    stages: compare.StagesDiff | None
    stages_note: str  # why there is no stage comparison
    commits: list[Commit]
    commits_total: int
    commits_note: str  # why there is no commit list
    later_first: bool  # B's lock commit comes before A's in history

    @property
    def params_changed(self) -> list[compare.ValueDiff]:
        return [d for d in self.params if d.changed]

    @property
    def params_same(self) -> list[compare.ValueDiff]:
        return [d for d in self.params if not d.changed]

    @property
    def metrics_changed(self) -> list[compare.ValueDiff]:
        return [d for d in self.metrics if d.changed]

    @property
    def metrics_same(self) -> list[compare.ValueDiff]:
        return [d for d in self.metrics if not d.changed]

    @property
    def data_changed(self) -> int:
        return sum(1 for d in self.data if d.status != compare.SAME)

    @property
    def data_conflicts(self) -> int:
        return sum(1 for d in self.data if d.conflict)


def _sides_data(side: CompareSide) -> list[compare.DataSide]:
    return [
        compare.DataSide(
            repo=link.repo,
            path=link.path,
            md5=link.md5,
            size=link.size,
            data_version_id=link.data_version_id,
            evidence=tuple(link.evidence),
            detail=link.detail,
        )
        for link in side.links
        if link.path
    ]


def _stages(side: CompareSide) -> dict[str, Any] | None:
    lock = side.lock
    return lock.snapshot.stages if lock is not None and lock.snapshot is not None else None


def commits_between(a: Commit, b: Commit, *, limit: int = 200) -> tuple[list[Commit], int]:
    """The commits of one source after the earlier of ``a`` and ``b`` up to and including the later one, in history
    order (oldest first, at most ``limit``), and how many there are. Two queries."""
    low, high = sorted((a.position, b.position))
    query = Commit.objects.filter(source_id=a.source_id, position__gt=low, position__lte=high)
    return list(query.select_related("source").order_by("position")[:limit]), query.count()


def comparison(a: CompareSide, b: CompareSide, *, commit_limit: int = 200) -> Comparison:
    """Params, metrics, data versions, pipeline stages and the commits between two sides. At most two queries."""
    run_a, run_b = a.run, b.run
    stages_a, stages_b = _stages(a), _stages(b)
    stages: compare.StagesDiff | None = None
    stages_note = ""
    if stages_a is not None and stages_b is not None:
        stages = compare.diff_stages(stages_a, stages_b)
    else:
        missing = " and ".join(side.label for side in (a, b) if _stages(side) is None)
        stages_note = f"No dvc.lock is known for {missing}: its run was not joined to a DVC commit."
    commits: list[Commit] = []
    total = 0
    commits_note = ""
    lock_a, lock_b = a.lock, b.lock
    if lock_a is None or lock_b is None:
        missing = " and ".join(side.label for side in (a, b) if side.lock is None)
        commits_note = f"No DVC commit is known for {missing}."
    elif lock_a.source_id != lock_b.source_id:
        commits_note = "The two were trained from different DVC sources: their commits are not one history."
    elif lock_a.pk == lock_b.pk:
        commits_note = f"Both are described by the same commit, {lock_a.short_sha}."
    else:
        commits, total = commits_between(lock_a, lock_b, limit=commit_limit)
    return Comparison(
        a=a,
        b=b,
        params=compare.diff_values(run_a.params if run_a else {}, run_b.params if run_b else {}),
        metrics=compare.diff_values(run_a.metrics if run_a else {}, run_b.metrics if run_b else {}),
        data=compare.diff_data(_sides_data(a), _sides_data(b)),
        stages=stages,
        stages_note=stages_note,
        commits=commits,
        commits_total=total,
        commits_note=commits_note,
        later_first=bool(lock_a and lock_b and lock_b.position < lock_a.position),
    )


def compare_choices(*, limit: int = 1000) -> list[tuple[str, list[tuple[str, ModelVersion]]]]:
    """Model versions to pick from on the compare form as (ref, version), grouped by model name (newest version
    first; at most ``limit`` versions in all). One query."""
    grouped: dict[str, list[tuple[str, ModelVersion]]] = {}
    query = ModelVersion.objects.filter(deleted=False, model__deleted=False).select_related("model")
    for version in query.order_by("model__name", "-version")[:limit]:
        ref = compare_ref(model=version.model.name, version=version.version)
        grouped.setdefault(version.model.name, []).append((ref, version))
    return list(grouped.items())


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
    if found := _VERSION_REF.fullmatch(text):
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
