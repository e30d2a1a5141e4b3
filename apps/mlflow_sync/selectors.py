"""Reads of the MLflow mirror for pages, search and the apps above."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, F, FloatField, Prefetch, Q, QuerySet, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from apps.mlflow_sync.filters import Clause, parse_filter
from apps.mlflow_sync.models import Experiment, MlflowSource, ModelVersion, RegisteredModel, RegistryChange, Run

_ATTRIBUTE_FIELDS = {
    "status": "status",
    "run_name": "name",
    "name": "name",
    "user_id": "user_id",
    "user": "user_id",
    "run_id": "run_id",
    "git_commit": "git_commit",
    "git_branch": "git_branch",
}
_LOOKUPS = {"=": "exact", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte", "LIKE": "contains", "ILIKE": "icontains"}
SORTABLE = {"start_time": "start_time", "end_time": "end_time", "name": "name", "status": "status", "user": "user_id"}


@dataclass(frozen=True)
class RunQuery:
    source: int | None = None
    experiment: int | None = None
    status: str = ""
    text: str = ""
    filter: str = ""
    order: str = "-start_time"
    include_deleted: bool = False


def _apply_clause(qs: QuerySet[Run], n: int, clause: Clause) -> QuerySet[Run]:
    if clause.scope == "attributes":
        field = _ATTRIBUTE_FIELDS[clause.key]
        value: object = clause.value
    else:
        field = f"_f{n}"
        expr = KeyTextTransform(clause.key, clause.scope)
        if clause.scope == "metrics":
            qs = qs.alias(**{field: Cast(expr, FloatField())})
            value = float(clause.value)
        else:
            # Compared as text: a bare key transform would compare JSON values and turn "80" into 80.
            qs = qs.alias(**{field: Cast(expr, TextField())})
            value = clause.value
    if clause.op == "!=":
        return qs.exclude(**{field: value})
    return qs.filter(**{f"{field}__{_LOOKUPS[clause.op]}": value})


def run_list(query: RunQuery) -> QuerySet[Run]:
    """Runs matching the query, ordered; raises ``FilterError`` for a filter that does not parse.

    ``order`` is an attribute (``start_time``, ``name``…) or ``metrics.KEY`` / ``params.KEY``, with ``-`` for
    descending; runs without that metric sort last."""
    qs = Run.objects.select_related("experiment", "source")
    if not query.include_deleted:
        qs = qs.filter(deleted=False)
    if query.source:
        qs = qs.filter(source_id=query.source)
    if query.experiment:
        qs = qs.filter(experiment_id=query.experiment)
    if query.status:
        qs = qs.filter(status=query.status)
    if query.text:
        text = query.text.strip()
        qs = qs.filter(
            Q(name__icontains=text) | Q(run_id__startswith=text.lower()) | Q(git_commit__startswith=text.lower())
        )
    for n, clause in enumerate(parse_filter(query.filter) if query.filter else []):
        qs = _apply_clause(qs, n, clause)
    desc = query.order.startswith("-")
    key = query.order.lstrip("-")
    if key.startswith(("metrics.", "params.")):
        scope, _, name = key.partition(".")
        expr = KeyTextTransform(name, scope)
        sort = Cast(expr, FloatField()) if scope == "metrics" else Cast(expr, TextField())
        qs = qs.alias(_sort=sort)
        ordering = F("_sort").desc(nulls_last=True) if desc else F("_sort").asc(nulls_last=True)
        return qs.order_by(ordering, "-start_time", "pk")
    field = SORTABLE.get(key, "start_time")
    return qs.order_by(F(field).desc(nulls_last=True) if desc else F(field).asc(nulls_last=True), "pk")


def run_get(pk: int) -> Run:
    return Run.objects.select_related("experiment", "source").get(pk=pk)


def run_model_versions(run: Run) -> QuerySet[ModelVersion]:
    """Model versions registered from this run (the registry may live in the same source only)."""
    return (
        ModelVersion.objects.filter(source=run.source, mlflow_run_id=run.run_id)
        .select_related("model")
        .order_by("model__name", "version")
    )


def run_children(run: Run) -> QuerySet[Run]:
    return Run.objects.filter(source=run.source, parent_run_id=run.run_id).order_by("start_time")


def run_parent(run: Run) -> Run | None:
    if not run.parent_run_id:
        return None
    return Run.objects.filter(source=run.source, run_id=run.parent_run_id).first()


def experiment_list() -> QuerySet[Experiment]:
    """Experiments with their live run counts, active ones first."""
    return (
        Experiment.objects.select_related("source")
        .annotate(run_count=Count("runs", filter=Q(runs__deleted=False)))
        .order_by("deleted", "source__name", "name")
    )


def experiment_choices() -> QuerySet[Experiment]:
    """Experiments for a filter menu: no counts, so the page does not aggregate the whole runs table."""
    return Experiment.objects.select_related("source").filter(deleted=False).order_by("source__name", "name")


def source_list() -> QuerySet[MlflowSource]:
    return MlflowSource.objects.order_by("name")


def model_list(*, include_deleted: bool = False) -> QuerySet[RegisteredModel]:
    """Registered models with their live version counts."""
    qs = RegisteredModel.objects.select_related("source").annotate(
        version_count=Count("versions", filter=Q(versions__deleted=False))
    )
    if not include_deleted:
        qs = qs.filter(deleted=False)
    return qs.order_by("name", "source__name")


def model_get(pk: int) -> RegisteredModel:
    versions = ModelVersion.objects.select_related("run").order_by("-version")
    return (
        RegisteredModel.objects.select_related("source")
        .prefetch_related(Prefetch("versions", queryset=versions))
        .get(pk=pk)
    )


def model_version_get(pk: int) -> ModelVersion:
    return ModelVersion.objects.select_related("model", "run", "source", "run__experiment").get(pk=pk)


def run_search(text: str, limit: int) -> list[Run]:
    text = text.strip()
    qs = (
        Run.objects.select_related("experiment")
        .filter(deleted=False)
        .filter(Q(run_id__startswith=text.lower()) | Q(name__icontains=text) | Q(git_commit__startswith=text.lower()))
    )
    return list(qs.order_by("-start_time")[:limit])


def model_search(text: str, limit: int) -> list[RegisteredModel]:
    return list(RegisteredModel.objects.filter(deleted=False, name__icontains=text.strip()).order_by("name")[:limit])


def experiment_search(text: str, limit: int) -> list[Experiment]:
    return list(Experiment.objects.filter(name__icontains=text.strip()).order_by("name")[:limit])


def mirror_counts() -> dict[str, int]:
    return {
        "runs": Run.objects.filter(deleted=False).count(),
        "experiments": Experiment.objects.filter(deleted=False).count(),
        "models": RegisteredModel.objects.filter(deleted=False).count(),
        "versions": ModelVersion.objects.filter(deleted=False).count(),
    }


# -- registry history ----------------------------------------------------------------------------------------------


def registry_timeline(model: RegisteredModel, *, limit: int = 500) -> list[RegistryChange]:
    """The model's registry changes, newest first (at most ``limit``), with their audit events."""
    return list(model.registry_changes.select_related("event").order_by("-at", "-pk")[:limit])


def registry_slots(model: RegisteredModel, changes: list[RegistryChange] | None = None) -> list[tuple[str, str]]:
    """The alias and stage slots the model's history knows, as (field, name): aliases first (production and
    staging before the others), then the stages ever held. From ``changes`` when they are the whole history (no
    query), else one query."""
    if changes is not None:
        seen = {(c.field, c.name, c.after) for c in changes}
    else:
        seen = set(
            model.registry_changes.filter(field__in=[RegistryChange.Field.ALIAS, RegistryChange.Field.STAGE])
            .order_by()
            .values_list("field", "name", "after")
            .distinct()
        )
    aliases = {name for field, name, _ in seen if field == RegistryChange.Field.ALIAS} | set(model.aliases or {})
    stages = {after for field, _, after in seen if field == RegistryChange.Field.STAGE and after not in ("", "None")}
    first = ["production", "staging"]
    ordered = [a for a in first if a in aliases] + sorted(aliases - set(first))
    stage_order = ["Production", "Staging", "Archived"]
    return [("alias", a) for a in ordered] + [
        ("stage", s) for s in [s for s in stage_order if s in stages] + sorted(stages - set(stage_order))
    ]


@dataclass(frozen=True)
class HolderAt:
    """Which version held an alias (or a legacy stage) of a model at a moment, as far as the dashboard knows.

    ``known`` is False before the source's first registry sync (``known_since``): MLflow keeps no history, so
    nothing earlier can be told. ``versions`` are the holders (an alias has one or none; a stage can have several);
    ``since`` is when the newest of the changes making them hold was seen (an observed change happened between its
    ``not_before`` and ``at``). ``uncertain`` lists the changes seen after the moment that may already have happened
    by then (their window starts before it): the polling interval is the precision."""

    model: RegisteredModel
    field: str
    name: str
    at: datetime
    known: bool
    known_since: datetime | None
    versions: list[int]
    since: RegistryChange | None
    uncertain: list[RegistryChange]

    @property
    def version(self) -> int | None:
        return self.versions[0] if self.versions else None


def registry_holder_at(*, model: RegisteredModel, field: str, name: str, at: datetime) -> HolderAt:
    """The holder of alias ``name`` (``field="alias"``) or of stage ``name`` (``field="stage"``) at ``at``. Two
    queries."""
    known_since = model.source.registry_baseline_at
    if known_since is None or at < known_since:
        return HolderAt(model, field, name, at, False, known_since, [], None, [])
    if field == RegistryChange.Field.ALIAS:
        changes = list(model.registry_changes.filter(field=field, name=name).order_by("at", "pk"))
        before = [c for c in changes if c.at <= at]
        last = before[-1] if before else None
        versions = [int(last.after)] if last is not None and last.after else []
        later = [c for c in changes if c.at > at and c.not_before is not None and c.not_before < at]
        return HolderAt(model, field, name, at, True, known_since, versions, last, later)
    # A stage: each version's last stage change at or before the moment.
    changes = list(model.registry_changes.filter(field=RegistryChange.Field.STAGE).order_by("at", "pk"))
    current: dict[int, RegistryChange] = {}
    for change in changes:
        if change.at <= at and change.version is not None:
            current[change.version] = change
    holders = {v: c for v, c in current.items() if c.after == name}
    newest = max(holders.values(), key=lambda c: (c.at, c.pk)) if holders else None
    later = [
        c for c in changes
        if c.at > at and c.not_before is not None and c.not_before < at and name in (c.before, c.after)
    ]  # fmt: skip
    return HolderAt(model, field, name, at, True, known_since, sorted(holders), newest, later)


@dataclass(frozen=True)
class Span:
    """One version holding one slot from ``start`` to ``end`` (None: still holds it); ``start_not_before`` is
    the earliest the move may have happened (an observed change)."""

    field: str
    name: str
    version: int
    start: datetime
    end: datetime | None
    start_not_before: datetime | None
    how: str  # the RegistryChange kind that started it


def registry_spans(model: RegisteredModel) -> list[Span]:
    """The model's history as spans per slot and version, oldest first: what the model page's timeline draws.
    One query."""
    spans: list[Span] = []
    open_spans: dict[tuple[str, str, int], RegistryChange] = {}

    def close(key: tuple[str, str, int], end: datetime) -> None:
        started = open_spans.pop(key)
        spans.append(Span(key[0], key[1], key[2], started.at, end, started.not_before, started.kind))

    for change in model.registry_changes.order_by("at", "pk"):
        if change.field == RegistryChange.Field.ALIAS:
            for key in [k for k in open_spans if k[0] == "alias" and k[1] == change.name]:
                close(key, change.at)
            if change.after:
                open_spans[("alias", change.name, int(change.after))] = change
        elif change.field == RegistryChange.Field.STAGE and change.version is not None:
            for key in [k for k in open_spans if k[0] == "stage" and k[2] == change.version]:
                close(key, change.at)
            if change.after not in ("", "None"):
                open_spans[("stage", change.after, change.version)] = change
        elif change.field == RegistryChange.Field.VERSION and change.after == "deleted" and change.version is not None:
            for key in [k for k in open_spans if k[2] == change.version]:
                close(key, change.at)
    for key, started in open_spans.items():
        spans.append(Span(key[0], key[1], key[2], started.at, None, started.not_before, started.kind))
    return sorted(spans, key=lambda s: (s.start, s.field, s.name, s.version))
