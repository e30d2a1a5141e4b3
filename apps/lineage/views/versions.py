"""The model version page (verdict, lineage graph, run, data, code, registry), its graph's JSON, the run's lineage
fragment loaded into the MLflow run page, and the home page's panel of models."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from apps.lineage import figures, selectors
from apps.lineage.models import LineageLink, ReproRule, RunLineage, Verdict
from apps.mlflow_sync.models import ModelVersion, Run

PERMISSION = "lineage.view_runlineage"
# How many params and metrics the page shows before "all N on the run page".
SHOWN = 12

VERDICT_MEANING: dict[str, str] = {
    Verdict.COMPLETE: "Every data link is verified by a digest or pinned by a commit.",
    Verdict.PROBABLE: "Some data is linked only through a commit whose work tree was dirty: the data may have differed.",
    Verdict.CONFLICT: "The evidence contradicts itself: the run may have trained on data that is not the committed version.",
    Verdict.GAPS: "The lineage is incomplete: some of the data this model was trained on cannot be named.",
}


def _version_or_none(request: HttpRequest, name: str, version: int) -> ModelVersion | None:
    try:
        return selectors.model_version_get(name=name, version=version, source=request.GET.get("source", "")[:200])
    except ModelVersion.DoesNotExist:
        return None


def _link_rows(links: list[LineageLink]) -> list[dict[str, Any]]:
    """Each link with where its commit opens: the DVC commit page, and the git web UI when one is configured."""
    rows = []
    for link in links:
        source, commit = link.dvc_source, link.commit
        web = getattr(source, "commit_web_url", None) if source is not None else None
        rows.append(
            {
                "link": link,
                "commit_url": reverse("dvc_sync:commit_detail", args=[source.name, commit.sha])
                if source is not None and commit is not None
                else "",
                "commit_web_url": web(commit.sha) if web and commit is not None else "",
            }
        )
    return rows


def _commit_urls(lineage: RunLineage | None) -> dict[str, str]:
    """Pages of the run's own commit and of the commit whose dvc.lock describes it."""
    urls = dict.fromkeys(("commit_url", "commit_web_url", "lock_url", "lock_web_url", "stage_url", "pipeline_url"), "")
    if lineage is None or lineage.dvc_source is None:
        return urls
    source = lineage.dvc_source
    web = getattr(source, "commit_web_url", None)
    for key, commit in (("commit", lineage.commit), ("lock", lineage.lock_commit)):
        if commit is not None:
            urls[f"{key}_url"] = reverse("dvc_sync:commit_detail", args=[source.name, commit.sha])
            urls[f"{key}_web_url"] = web(commit.sha) if web else ""
    if lineage.stage and lineage.lock_commit is not None:
        urls["stage_url"] = selectors.stage_page_url(source, lineage.lock_commit, lineage.stage)
        query = urlencode({"rev": lineage.lock_commit.sha})
        urls["pipeline_url"] = reverse("dvc_sync:pipeline", args=[source.name]) + "?" + query
    return urls


def _run_context(view: selectors.LineageView) -> dict[str, Any]:
    """What the page and the fragment show of the run: its key params and metrics, data links and code."""
    run, lineage = view.run, view.lineage
    context: dict[str, Any] = {
        "run": run,
        "lineage": lineage,
        "link_rows": _link_rows(view.links),
        "repro_marker": lineage is not None and lineage.repro_rule == ReproRule.MARKER,
        "repro_rule_text": lineage.get_repro_rule_display() if lineage and lineage.repro_rule else "",
        **_commit_urls(lineage),
    }
    if run is not None:
        metric = selectors.key_metric(run.metrics or {})
        metrics = sorted((run.metrics or {}).items(), key=lambda kv: (metric is None or kv[0] != metric[0], kv[0]))
        context.update(
            key_metric=metric,
            metrics=metrics[:SHOWN],
            metrics_total=len(metrics),
            params=sorted((run.params or {}).items())[:SHOWN],
            params_total=len(run.params or {}),
            run_url=reverse("mlflow_sync:run_detail", args=[run.pk]),
            run_mlflow_url=_run_ui_url(run),
        )
    return context


def _run_ui_url(run: Run) -> str:
    build = getattr(run.source, "run_ui_url", None)
    return build(run.experiment.experiment_id if run.experiment else "", run.run_id) if build else ""


@require_GET
@permission_required(PERMISSION, raise_exception=True)
def model_version(request: HttpRequest, name: str, version: int) -> HttpResponse:
    found = _version_or_none(request, name, version)
    if found is None:
        source = request.GET.get("source", "")[:200]
        context = {
            "name": name,
            "version": version,
            "source": source,
            "known": selectors.model_version_numbers(name=name, source=source),
        }
        return render(request, "lineage/model_version.html", context, status=404)
    view = selectors.version_lineage(found)
    verdict = selectors.version_verdict(found)
    sources = selectors.model_version_sources(name=found.model.name, version=found.version)
    build_ui = getattr(found.source, "model_version_ui_url", None)
    graph_url = reverse("lineage:model_version_graph", args=[found.model.name, found.version])
    if len(sources) > 1:
        graph_url += "?" + urlencode({"source": found.source.name})
    context = {
        "mv": found,
        "verdict": verdict,
        "verdict_meaning": VERDICT_MEANING.get(verdict.verdict, ""),
        "other_sources": [s for s in sources if s != found.source.name],
        "graph_url": graph_url,
        "model_url": reverse("mlflow_sync:model_detail", args=[found.model_id]),
        "mlflow_url": build_ui(found.model.name, found.version) if build_ui else "",
        "compare_a": selectors.compare_ref(model=found.model.name, version=found.version),
        "compare_with": [
            (n, selectors.compare_ref(model=found.model.name, version=n))
            for n in selectors.model_version_numbers(name=found.model.name, source=found.source.name)
            if n != found.version
        ],
        **_run_context(view),
    }
    return render(request, "lineage/model_version.html", context)


@require_GET
@permission_required(PERMISSION, raise_exception=True)
def model_version_graph(request: HttpRequest, name: str, version: int) -> JsonResponse:
    found = _version_or_none(request, name, version)
    if found is None:
        return JsonResponse({"error": f"Model {name!r} has no version {version}."}, status=404)
    return JsonResponse(figures.lineage_figure(selectors.version_lineage(found).graph))


def _run_or_404(pk: int) -> Run:
    try:
        return selectors.run_get(pk)
    except Run.DoesNotExist:
        raise Http404("No such run.") from None


@require_GET
@permission_required(PERMISSION, raise_exception=True)
def run_lineage_fragment(request: HttpRequest, pk: int) -> HttpResponse:
    view = selectors.run_lineage_view(_run_or_404(pk))
    verdict = view.lineage.verdict if view.lineage else Verdict.GAPS
    context = {
        **_run_context(view),
        "verdict": verdict,
        "verdict_meaning": VERDICT_MEANING.get(verdict, ""),
        "problems": list(view.lineage.problems)
        if view.lineage
        else ["The run has not been joined with DVC yet: sync, or run rebuild_lineage."],
        "versions": view.versions,
        "graph_url": reverse("lineage:run_graph", args=[pk]),
    }
    return render(request, "lineage/partials/run_lineage.html", context)


@require_GET
@permission_required(PERMISSION, raise_exception=True)
def run_graph(request: HttpRequest, pk: int) -> JsonResponse:
    try:
        run = selectors.run_get(pk)
    except Run.DoesNotExist:
        return JsonResponse({"error": "No such run."}, status=404)
    return JsonResponse(figures.lineage_figure(selectors.run_lineage_view(run).graph))


def home_panel_context(user: Any) -> dict[str, Any]:
    """The home page's models panel: every model's Production and Staging versions (and other aliases) with their
    verdicts, and the newest model versions with lineage gaps or conflicts."""
    gaps = [(version, selectors.version_verdict(version)) for version in selectors.lineage_gaps(limit=10)]
    return {"serving": selectors.models_serving(), "gaps": gaps}
