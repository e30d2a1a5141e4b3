"""Pages of the DVC mirror: sources, tracked data and its history, commits, the pipeline DAG and the GTO registry.

Every string read from git or DVC is hostile: templates escape it, the pipeline figure escapes it for plotly."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from apps.core import services as core_services
from apps.core.errors import AppError
from apps.dvc_sync import figures, selectors
from apps.dvc_sync.models import Commit, DvcSource

COMMITS_PER_PAGE = 30
PATHS_PER_PAGE = 100
VERSIONS_PER_PAGE = 100
EVENTS_PER_PAGE = 100


def _get_source(name: str) -> DvcSource:
    try:
        return selectors.source_get(name)
    except AppError:
        raise Http404("No such DVC source.") from None


def _rev(request: HttpRequest) -> str:
    """The revision a page was asked for (a branch, tag or sha; "" for the default branch head)."""
    return request.GET.get("rev", "")[:200].strip()


def _resolve(source: DvcSource, rev: str) -> tuple[Commit | None, str]:
    """The commit ``rev`` names (the default branch head without one) and, when there is none, why."""
    try:
        return selectors.commit_resolve(source, rev or None), ""
    except selectors.RevisionNotFound as exc:
        return None, str(exc) if rev else ""


def data_url(source: DvcSource, path: str) -> str:
    return reverse("dvc_sync:data_history", args=[source.name]) + "?" + urlencode({"path": path})


def stage_url(source: DvcSource, commit: Commit, address: str) -> str:
    query = urlencode({"rev": commit.sha, "address": address})
    return reverse("dvc_sync:stage_detail", args=[source.name]) + "?" + query


def _source_context(request: HttpRequest, source: DvcSource, tab: str) -> dict[str, Any]:
    return {
        "source": source,
        "tab": tab,
        "can_sync": request.user.has_perm("dvc_sync.sync_dvcsource"),
    }


@require_GET
@permission_required("dvc_sync.view_dvcsource", raise_exception=True)
def source_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "dvc_sync/source_list.html",
        {"rows": selectors.source_list(), "can_sync": request.user.has_perm("dvc_sync.sync_dvcsource")},
    )


@require_GET
@permission_required("dvc_sync.view_dvcsource", raise_exception=True)
def source_detail(request: HttpRequest, name: str) -> HttpResponse:
    source = _get_source(name)
    head = selectors.source_head(source)
    refs = selectors.ref_list(source)
    page = Paginator(selectors.commit_list(source), COMMITS_PER_PAGE).get_page(request.GET.get("page"))
    at = selectors.refs_by_commit(refs)
    return render(
        request,
        "dvc_sync/source_detail.html",
        {
            **_source_context(request, source, "overview"),
            "head": head,
            "remotes": sorted((head.snapshot.remotes if head and head.snapshot else {}).items()),
            "branches": [r for r in refs if r.kind == r.Kind.BRANCH],
            "tags": [r for r in refs if r.kind == r.Kind.TAG],
            "page": page,
            "commits": [
                (c, {"refs": at.get(c.pk, []), "web_url": source.commit_web_url(c.sha)}) for c in page.object_list
            ],
            "counts": selectors.source_counts(source),
            "problems": selectors.commit_problem_list(source),
            "anomalies": selectors.commit_anomaly_list(source),
            "last_sync": selectors.source_last_sync(source),
        },
    )


@require_POST
@permission_required("dvc_sync.sync_dvcsource", raise_exception=True)
def sync_now(request: HttpRequest, name: str) -> HttpResponse:
    source = _get_source(name)
    try:
        core_services.sync_queue(kind="dvc", source_id=source.pk, requested_by=request.user.get_username())
    except AppError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Sync of '{source.name}' queued.")
    return redirect("dvc_sync:source_detail", name=source.name)


def _revision_context(source: DvcSource, commit: Commit | None, rev: str, error: str) -> dict[str, Any]:
    refs = selectors.ref_list(source)
    return {
        "commit": commit,
        "rev": rev,
        "rev_error": error,
        "branches": [r for r in refs if r.kind == r.Kind.BRANCH],
        "tags": [r for r in refs if r.kind == r.Kind.TAG],
        "commit_refs": [r for r in refs if commit is not None and r.commit_id == commit.pk],
        "rev_is_ref": any(r.name == rev for r in refs),
        "default_branch": next((r for r in refs if r.is_default), None),
    }


@require_GET
@permission_required("dvc_sync.view_dataversion", raise_exception=True)
def data_list(request: HttpRequest, name: str) -> HttpResponse:
    source = _get_source(name)
    rev = _rev(request)
    text = request.GET.get("q", "")[:200].strip()
    commit, error = _resolve(source, rev)
    pins = selectors.tracked_data(commit, text=text) if commit is not None else []
    page = Paginator(pins, PATHS_PER_PAGE).get_page(request.GET.get("page"))
    counts = selectors.version_counts(source, [p.data_version.path for p in page.object_list])
    rows = [(pin, counts.get(pin.data_version.path, 0), data_url(source, pin.data_version.path)) for pin in page]
    return render(
        request,
        "dvc_sync/data_list.html",
        {**_source_context(request, source, "data"), **_revision_context(source, commit, rev, error),
         "page": page, "rows": rows, "q": text},
        status=404 if error else 200,
    )  # fmt: skip


@require_GET
@permission_required("dvc_sync.view_dataversion", raise_exception=True)
def data_history(request: HttpRequest, name: str) -> HttpResponse:
    source = _get_source(name)
    path = request.GET.get("path", "")[:1000]
    rows = selectors.data_history(source, path) if path else []
    page = Paginator(rows, VERSIONS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "dvc_sync/data_history.html",
        {**_source_context(request, source, "data"), "path": path, "rows": page.object_list, "page": page},
        status=200 if rows or not path else 404,
    )


@require_GET
@permission_required("dvc_sync.view_commit", raise_exception=True)
def commit_detail(request: HttpRequest, name: str, sha: str) -> HttpResponse:
    source = _get_source(name)
    try:
        commit = selectors.commit_resolve(source, sha)
    except selectors.RevisionNotFound:
        raise Http404("No such commit in this source.") from None
    pins = selectors.commit_pins(commit)
    snapshot = commit.snapshot
    return render(
        request,
        "dvc_sync/commit_detail.html",
        {
            **_source_context(request, source, "overview"),
            "commit": commit,
            "web_url": source.commit_web_url(commit.sha),
            "refs": selectors.commit_refs(commit),
            "parents": selectors.commit_parents(commit),
            "problems": snapshot.problems if snapshot else [],
            "has_graph": snapshot is not None and snapshot.graph_id is not None,
            "pins": [(pin, data_url(source, pin.data_version.path)) for pin in pins],
            "stages": [
                (address, info, stage_url(source, commit, address))
                for address, info in (snapshot.stages if snapshot else {}).items()
            ],
        },
    )


@require_GET
@permission_required("dvc_sync.view_pipelinegraph", raise_exception=True)
def pipeline(request: HttpRequest, name: str) -> HttpResponse:
    source = _get_source(name)
    rev = _rev(request)
    outs = request.GET.get("outs") == "1"
    commit, error = _resolve(source, rev)
    context: dict[str, Any] = {
        **_source_context(request, source, "pipeline"),
        **_revision_context(source, commit, rev, error),
        "outs": outs,
    }
    if commit is not None:
        snapshot = commit.snapshot
        query = {"rev": commit.sha, **({"outs": "1"} if outs else {})}
        context.update(
            data_url=reverse("dvc_sync:pipeline_data", args=[source.name]) + "?" + urlencode(query),
            has_graph=snapshot is not None and snapshot.graph_id is not None,
            problems=snapshot.problems if snapshot else [],
            stages=[
                (address, info, stage_url(source, commit, address))
                for address, info in (snapshot.stages if snapshot else {}).items()
            ],
        )
    return render(request, "dvc_sync/pipeline.html", context, status=404 if error else 200)


@require_GET
@permission_required("dvc_sync.view_pipelinegraph", raise_exception=True)
def pipeline_data(request: HttpRequest, name: str) -> JsonResponse:
    source = _get_source(name)
    rev = _rev(request)
    outs = request.GET.get("outs") == "1"
    try:
        commit = selectors.commit_resolve(source, rev or None)
    except selectors.RevisionNotFound as exc:
        return JsonResponse({"error": str(exc)}, status=404)
    data = selectors.pipeline_data(commit, outputs=outs)
    if data is None:
        return JsonResponse({"error": "The DVC files at this commit did not load into a pipeline."}, status=404)
    result = figures.pipeline_figure(
        data,
        outputs=outs,
        stage_url=lambda address: stage_url(source, commit, address),
        data_url=lambda path: data_url(source, path),
    )
    return JsonResponse({"sha": commit.sha, "outs": outs, **result})


@require_GET
@permission_required("dvc_sync.view_pipelinegraph", raise_exception=True)
def stage_detail(request: HttpRequest, name: str) -> HttpResponse:
    source = _get_source(name)
    address = request.GET.get("address", "")[:1000]
    try:
        commit = selectors.commit_resolve(source, _rev(request) or None)
    except selectors.RevisionNotFound:
        raise Http404("No such commit in this source.") from None
    stage = selectors.stage_get(commit, address)
    if stage is None:
        raise Http404("No stage of that name at this commit.")
    params = [(file, sorted((values or {}).items())) for file, values in sorted(stage.get("params", {}).items())]
    return render(
        request,
        "dvc_sync/stage_detail.html",
        {
            **_source_context(request, source, "pipeline"),
            "commit": commit,
            "address": address,
            "stage": stage,
            "params": params,
            "deps": [(d, data_url(source, d.get("path", ""))) for d in stage.get("deps", [])],
            "outs": [(o, data_url(source, o.get("path", ""))) for o in stage.get("outs", [])],
            "imports": selectors.stage_imports(commit, address),
        },
    )


@require_GET
@permission_required("dvc_sync.view_artifactevent", raise_exception=True)
def registry(request: HttpRequest, name: str) -> HttpResponse:
    source = _get_source(name)
    head = selectors.source_head(source)
    page = Paginator(selectors.artifact_event_list(source), EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    artifacts = selectors.artifact_list(source, head)
    return render(
        request,
        "dvc_sync/registry.html",
        {
            **_source_context(request, source, "registry"),
            "head": head,
            "artifacts": artifacts,
            "assignments": [stage for a in artifacts for stage in a.stages],
            "page": page,
        },
    )
