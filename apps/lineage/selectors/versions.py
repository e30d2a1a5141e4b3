"""Reads for model versions and runs: their lineage (links, verdict, graph), the model version page, the run's
lineage fragment and the home page's panel. A fixed number of queries whatever the number of rows."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlencode

import networkx as nx
from django.db.models import Case, Count, IntegerField, Q, QuerySet, TextField, Value, When
from django.db.models.functions import Cast
from django.urls import reverse

from apps.dvc_sync.models import Commit, DvcSource, Pin
from apps.lineage import graph as lineage_graph
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


def registered_model_get(*, name: str, source: str = "") -> RegisteredModel | None:
    """The live registered model ``name`` (in the MLflow source named ``source`` when given; else the first source
    by name), with its source; None when the mirror has none."""
    query = RegisteredModel.objects.select_related("source").filter(name=name, deleted=False)
    if source:
        query = query.filter(source__name=source)
    return query.order_by("source__name").first()


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
