"""Pages of the MLflow mirror: runs, run detail (with metric charts), experiments and models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET

from apps.audit import links
from apps.core import registry
from apps.core.errors import AppError
from apps.mlflow_sync import selectors, services
from apps.mlflow_sync.filters import FilterError
from apps.mlflow_sync.models import ModelVersion, RegisteredModel, Run

PAGE_SIZE = 50
MAX_KEY_COLUMNS = 6


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _get_run(pk: int) -> Run:
    try:
        return selectors.run_get(pk)
    except Run.DoesNotExist:
        raise Http404("No such run.") from None


@require_GET
@permission_required("mlflow_sync.view_run", raise_exception=True)
def run_list(request: HttpRequest) -> HttpResponse:
    query = selectors.RunQuery(
        source=_int(request.GET.get("source")),
        experiment=_int(request.GET.get("experiment")),
        status=request.GET.get("status", "")[:16],
        text=request.GET.get("q", "")[:200],
        filter=request.GET.get("filter", "")[:1000],
        order=request.GET.get("order", "-start_time")[:300] or "-start_time",
        include_deleted=request.GET.get("deleted") == "1",
    )
    filter_error = ""
    try:
        runs = selectors.run_list(query)
        page = Paginator(runs, PAGE_SIZE).get_page(request.GET.get("page"))
        rows = list(page.object_list)
    except FilterError as exc:
        filter_error = str(exc)
        page = Paginator(Run.objects.none(), PAGE_SIZE).get_page(1)
        rows = []
    metric_keys = sorted({k for r in rows for k in r.metrics})[:MAX_KEY_COLUMNS]
    param_keys = sorted({k for r in rows for k in r.params})[:MAX_KEY_COLUMNS]

    def sort(key: str) -> dict[str, str]:
        current = query.order.lstrip("-")
        descending = query.order.startswith("-")
        active = current == key
        return {
            "next": key if active and descending else f"-{key}",
            "state": ("desc" if descending else "asc") if active else "",
        }

    sorts = {k: sort(k) for k in ("name", "status", "start_time", "user")}
    metric_sorts = [sort(f"metrics.{k}") for k in metric_keys]
    param_sorts = [sort(f"params.{k}") for k in param_keys]
    table = [
        {
            "run": r,
            "metrics": [r.metrics.get(k) for k in metric_keys],
            "params": [r.params.get(k, "") for k in param_keys],
        }
        for r in rows
    ]
    return render(
        request,
        "mlflow_sync/run_list.html",
        {
            "page": page,
            "table": table,
            "metric_keys": metric_keys,
            "param_keys": param_keys,
            "query": query,
            "filter_error": filter_error,
            "experiments": selectors.experiment_choices(),
            "sources": selectors.source_list(),
            "statuses": Run.Status.choices,
            "order": query.order,
            "sorts": sorts,
            "metric_columns": list(zip(metric_keys, metric_sorts, strict=True)),
            "param_columns": list(zip(param_keys, param_sorts, strict=True)),
        },
    )


@require_GET
@permission_required("mlflow_sync.view_run", raise_exception=True)
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = _get_run(pk)
    system_tags = sorted((k, v) for k, v in run.tags.items() if k.startswith("mlflow."))
    user_tags = sorted((k, v) for k, v in run.tags.items() if not k.startswith("mlflow."))
    history_url = reverse("mlflow_sync:metric_history", args=[run.pk]) + "?key="
    metrics = [
        {
            "key": k,
            "value": v,
            "step": (run.metric_steps.get(k) or [None])[0],
            "url": history_url,
        }
        for k, v in sorted(run.metrics.items())
    ]
    return render(
        request,
        "mlflow_sync/run_detail.html",
        {
            "run": run,
            "params": sorted(run.params.items()),
            "metrics": metrics,
            "system_tags": system_tags,
            "user_tags": user_tags,
            "inputs": list(run.dataset_inputs.all()),
            "versions": list(selectors.run_model_versions(run)),
            "parent": selectors.run_parent(run),
            "children": list(selectors.run_children(run)[:50]),
            # From the admin's UI URL only, never from a URL in the run's tags (mlflow.source.git.repoURL).
            "mlflow_url": run.source.run_ui_url(run.experiment.experiment_id if run.experiment else "", run.run_id),
        },
    )


@require_GET
@permission_required("mlflow_sync.view_run", raise_exception=True)
def metric_history(request: HttpRequest, pk: int) -> JsonResponse:
    run = _get_run(pk)
    key = request.GET.get("key", "")
    if key not in run.metrics:
        raise Http404("This run has no such metric.")
    try:
        points = services.run_metric_history(run=run, key=key)
    except AppError as exc:
        return JsonResponse({"key": key, "error": str(exc), "points": []}, status=502)
    return JsonResponse({"key": key, "points": points})


@require_GET
@permission_required("mlflow_sync.view_experiment", raise_exception=True)
def experiment_list(request: HttpRequest) -> HttpResponse:
    return render(request, "mlflow_sync/experiment_list.html", {"experiments": selectors.experiment_list()})


@require_GET
@permission_required("mlflow_sync.view_registeredmodel", raise_exception=True)
def model_list(request: HttpRequest) -> HttpResponse:
    models = list(selectors.model_list(include_deleted=request.GET.get("deleted") == "1"))
    return render(request, "mlflow_sync/model_list.html", {"models": models})


def _moment(value: str) -> datetime | None:
    """A ``datetime-local`` value (``2026-12-01T14:30``), in the site's time zone, or an ISO time with its offset."""
    try:
        parsed = parse_datetime(value.strip()) if value else None
    except ValueError:  # well-formed but no such moment: 2026-02-30T10:00
        return None
    if parsed is None:
        return None
    return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed


def _held_at(request: HttpRequest, model: RegisteredModel, slots: list[tuple[str, str]]) -> dict[str, Any]:
    """The answer to "which version held this slot at that moment" when the page was asked (``?at=&slot=``)."""
    raw_at = request.GET.get("at", "")[:40]
    raw_slot = request.GET.get("slot", "alias:production")[:300]
    answer: dict[str, Any] = {"at_value": raw_at, "slot_value": raw_slot}
    if not raw_at:
        return answer
    moment = _moment(raw_at)
    field, _, name = raw_slot.partition(":")
    if moment is None or field not in ("alias", "stage") or not name:
        answer["error"] = "Give a date and time, and choose an alias or a stage."
        return answer
    holder = selectors.registry_holder_at(model=model, field=field, name=name, at=moment)
    versions = {v.version: v for v in model.versions.all()}
    answer.update(
        holder=holder,
        holder_versions=[versions[v] for v in holder.versions if v in versions],
        fragments=[
            {"name": f.name, "url": reverse(f.url_name, args=[versions[v].pk]), "version": v}
            for v in holder.versions
            if v in versions
            for f in registry.page_fragments("model_version_summary")
            if not f.permission or request.user.has_perm(f.permission)
        ],
    )
    return answer


@require_GET
@permission_required("mlflow_sync.view_registeredmodel", raise_exception=True)
def model_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        model = selectors.model_get(pk)
    except RegisteredModel.DoesNotExist:
        raise Http404("No such model.") from None
    versions: list[ModelVersion] = list(model.versions.all())
    aliases = sorted(model.aliases.items(), key=lambda kv: kv[0])
    # Links to MLflow's UI from the admin's UI URL only; nothing in MLflow's data names where they lead.
    version_rows = [(v, model.source.model_version_ui_url(model.name, v.version)) for v in versions]
    changes = selectors.registry_timeline(model, limit=HISTORY_SHOWN)
    slots = selectors.registry_slots(model, changes if len(changes) < HISTORY_SHOWN else None)
    timeline = [(change, links.target_url(change.event.target_type, change.event.target_id)) for change in changes]
    context: dict[str, Any] = {
        "model": model,
        "versions": versions,
        "version_rows": version_rows,
        "mlflow_links": any(url for _, url in version_rows),
        "aliases": aliases,
        "tags": sorted(model.tags.items()),
        "timeline": timeline,
        "history_shown": HISTORY_SHOWN,
        "slots": slots,
        "held": _held_at(request, model, slots),
        "known_since": model.source.registry_baseline_at,
        "can_see_audit": request.user.has_perm("audit.view_auditevent"),
        "history_url": reverse("mlflow_sync:model_history", args=[model.pk]),
    }
    return render(request, "mlflow_sync/model_detail.html", context)


HISTORY_SHOWN = 200


@require_GET
@permission_required("mlflow_sync.view_registeredmodel", raise_exception=True)
def model_history(request: HttpRequest, pk: int) -> JsonResponse:
    """The model's registry history as spans (slot, version, start, end) for the timeline chart."""
    try:
        model = RegisteredModel.objects.select_related("source").get(pk=pk)
    except RegisteredModel.DoesNotExist:
        return JsonResponse({"error": "No such model."}, status=404)
    spans = selectors.registry_spans(model)
    return JsonResponse(
        {
            "model": model.name,
            "known_since": model.source.registry_baseline_at,
            "now": timezone.now(),
            "slots": [
                f"@{name}" if field == "alias" else f"stage {name}" for field, name in selectors.registry_slots(model)
            ],
            "spans": [
                {
                    "slot": f"@{s.name}" if s.field == "alias" else f"stage {s.name}",
                    "version": s.version,
                    "start": s.start,
                    "end": s.end,
                    "not_before": s.start_not_before,
                    "how": s.how,
                }
                for s in spans
            ],
        }
    )
