"""The model version page (verdict, lineage graph, run, data, code, registry), its graph's JSON, the run's lineage
fragment loaded into the MLflow run page, and the home page's panel of models."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import networkx as nx
from django.contrib.auth.decorators import permission_required
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from apps.core import registry
from apps.lineage import figures, selectors
from apps.lineage.models import LineageLink, ReproRule, RunLineage, Verdict
from apps.mlflow_sync.models import ModelVersion, Run

PERMISSION = "lineage.view_runlineage"
# How many params and metrics the page shows before "all N on the run page".
SHOWN = 12
# How many data links the model version page shows before "Show all N data versions".
LINKS_SHOWN = 25

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


# What each kind of evidence means, shown as the badge's title.
EVIDENCE_TITLES: dict[str, str] = {
    "digest": "verified: the run's dataset input has this md5",
    "commit": "pinned: dvc files at the run's git commit pin this version",
    "data-commit": "pinned: a run tag or param names the data commit",
    "commit-dirty": "probable: pinned at the run's commit, but the work tree was dirty",
    "conflict": "conflict: the run logged other data than the commit pins",
}
MISSING_TITLE = "missing: no data could be linked"


def _url_format(viewname: str, *args: str) -> str:
    """The URL of ``viewname`` as a format string with a ``{}`` for its last argument: reversed once, so that a row
    is a string format rather than a ``reverse()``."""
    marker = "0MARKER0"
    return reverse(viewname, args=[*args, marker]).replace("{", "{{").replace("}", "}}").replace(marker, "{}")


def _link_rows(links: list[LineageLink]) -> list[dict[str, Any]]:
    """Each link with its data version page, its evidence with what each means, and where its commit opens: the
    DVC commit page, and the git web UI when one is configured. URLs are reversed once per source, not per row."""
    data_url = reverse("lineage:data_version", args=[999_999_999]).replace("999999999", "{}")
    commit_urls: dict[str, str] = {}
    rows = []
    for link in links:
        source, commit = link.dvc_source, link.commit
        commit_url = commit_web_url = ""
        if source is not None and commit is not None:
            if source.name not in commit_urls:
                commit_urls[source.name] = _url_format("dvc_sync:commit_detail", source.name)
            commit_url = commit_urls[source.name].format(commit.sha)
            commit_web_url = source.commit_web_url(commit.sha)
        rows.append(
            {
                "link": link,
                "data_url": data_url.format(link.data_version_id) if link.data_version_id else "",
                "evidence": [(e, EVIDENCE_TITLES.get(e, MISSING_TITLE)) for e in link.evidence],
                "commit_url": commit_url,
                "commit_web_url": commit_web_url,
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


def _run_context(
    run: Run | None, lineage: RunLineage | None, links: list[LineageLink], links_total: int
) -> dict[str, Any]:
    """What the page and the fragment show of the run: its key params and metrics, data links and code."""
    context: dict[str, Any] = {
        "run": run,
        "lineage": lineage,
        "link_rows": _link_rows(links),
        "links_total": links_total,
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
    run = found.run
    # Only graph.json builds the graph: the page shows the links, at most LINKS_SHOWN unless ?links=all.
    lineage = selectors.run_lineage(run) if run is not None else None
    show_all = request.GET.get("links") == "all"
    links, links_total = (
        selectors.run_links_shown(run, limit=None if show_all else LINKS_SHOWN) if run is not None else ([], 0)
    )
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
        "all_links_url": "?" + urlencode({**request.GET.dict(), "links": "all"}) + "#data-versions",
        "fragments": _fragments(request, "model_version", found.pk),
        **_run_context(run, lineage, links, links_total),
    }
    return render(request, "lineage/model_version.html", context)


def _fragments(request: HttpRequest, page: str, pk: int) -> list[dict[str, str]]:
    """The fragments other apps serve for this page (the promotion panel), for the user's permissions."""
    return [
        {"name": f.name, "url": reverse(f.url_name, args=[pk])}
        for f in registry.page_fragments(page)
        if not f.permission or request.user.has_perm(f.permission)
    ]


# The graph's figure (its layout is most of a second for a few hundred nodes) is kept this long at most; a recompute
# of the run's lineage or a sync of the run or of a version drawn changes the key before that.
GRAPH_CACHE_SECONDS = 3600


def _graph_json(stamps: list[object], build: Callable[[], nx.DiGraph]) -> HttpResponse:
    """The figure of the graph ``build`` returns, as ``figures.lineage_figure`` draws it, from the cache when one was
    drawn from the same ``stamps`` (what it was built from: ids and their sync and recompute times)."""
    digest = hashlib.sha256(repr(stamps).encode()).hexdigest()
    key = f"lineage:graph.json:v1:{digest}"
    body = cache.get(key)
    if body is None:
        body = json.dumps(figures.lineage_figure(build()), cls=DjangoJSONEncoder)
        cache.set(key, body, GRAPH_CACHE_SECONDS)
    return HttpResponse(body, content_type="application/json")


def _run_stamps(run: Run | None) -> list[object]:
    lineage = getattr(run, "lineage", None) if run is not None else None
    return [run.pk, run.synced_at, lineage.pk, lineage.computed_at] if run and lineage else [run and run.pk]


@require_GET
@permission_required(PERMISSION, raise_exception=True)
def model_version_graph(request: HttpRequest, name: str, version: int) -> HttpResponse:
    found = _version_or_none(request, name, version)
    if found is None:
        return JsonResponse({"error": f"Model {name!r} has no version {version}."}, status=404)
    stamps = ["version", found.pk, found.model.name, found.version, found.synced_at, *_run_stamps(found.run)]
    return _graph_json(stamps, lambda: selectors.version_lineage(found).graph)


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
        **_run_context(view.run, view.lineage, view.links, len(view.links)),
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
def run_graph(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        run = selectors.run_get(pk)
    except Run.DoesNotExist:
        return JsonResponse({"error": "No such run."}, status=404)
    versions = selectors.run_model_versions(run)
    stamps = ["run", *_run_stamps(run), *((v.pk, v.model.name, v.version, v.synced_at) for v in versions)]
    return _graph_json(stamps, lambda: selectors.lineage_view(run, versions).graph)


SUMMARY_LINKS = 10


@require_GET
@permission_required(PERMISSION, raise_exception=True)
def version_summary(request: HttpRequest, pk: int) -> HttpResponse:
    """A model version's verdict and the data it was trained on, in short: the fragment other pages load (the
    model page's "which version held it then")."""
    try:
        found = selectors.with_verdicts(ModelVersion.objects.filter(pk=pk)).get()
    except ModelVersion.DoesNotExist:
        raise Http404("No such model version.") from None
    links, total = selectors.run_links_shown(found.run, limit=SUMMARY_LINKS) if found.run is not None else ([], 0)
    verdict = selectors.version_verdict(found)
    return render(
        request,
        "lineage/partials/version_summary.html",
        {
            "mv": found,
            "verdict": verdict,
            "link_rows": _link_rows(links),
            "links_total": total,
            "page_url": selectors.model_version_url(found),
        },
    )


def home_panel_context(user: Any) -> dict[str, Any]:
    """The home page's models panel: every model's Production and Staging versions (and other aliases) with their
    verdicts, and the newest model versions with lineage gaps or conflicts."""
    gaps = [(version, selectors.version_verdict(version)) for version in selectors.lineage_gaps(limit=10)]
    return {"serving": selectors.models_serving(), "gaps": gaps}
