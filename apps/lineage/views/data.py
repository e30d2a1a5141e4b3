"""The data version page (impact analysis: every run and model version trained on a version, and the versions of
the same path that replaced it) and the compare page (two model versions or runs side by side).

Strings from MLflow, DVC and git are hostile: the templates escape them."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from apps.dvc_sync.models import DataVersion
from apps.lineage import selectors

PERMISSION = "lineage.view_runlineage"
RUNS_PER_PAGE = selectors.IMPACT_PAGE_SIZE
COMMITS_SHOWN = 200


def _history_url(dv: DataVersion) -> str:
    return reverse("dvc_sync:data_history", args=[dv.source.name]) + "?" + urlencode({"path": dv.path})


@require_GET
@permission_required(PERMISSION, raise_exception=True)
def data_version(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        dv = selectors.data_version_get(pk)
    except DataVersion.DoesNotExist:
        return render(request, "lineage/data_version.html", {"missing_pk": pk}, status=404)
    impact = selectors.data_impact(dv, page=request.GET.get("page"), per_page=RUNS_PER_PAGE)
    summary = impact.summary
    timeline = selectors.data_version_timeline(dv)
    return render(
        request,
        "lineage/data_version.html",
        {
            "dv": dv,
            "history_url": _history_url(dv),
            "page": impact.page,
            "rows": impact.rows,
            "summary": summary,
            "timeline": timeline,
            "replaced": bool(summary.serving and timeline.later),
        },
    )


def _refs(request: HttpRequest) -> tuple[str, str]:
    """The two references asked for: ``a`` and ``b`` (``mv:<model>/<version>`` or ``run:<run id>``), or ``model``
    with the version numbers ``va`` and ``vb``."""
    a, b = request.GET.get("a", "")[:600].strip(), request.GET.get("b", "")[:600].strip()
    model = request.GET.get("model", "")[:500].strip()
    if model:
        va, vb = request.GET.get("va", "")[:9].strip(), request.GET.get("vb", "")[:9].strip()
        a = a or (selectors.compare_ref(model=model, version=int(va)) if va.isdigit() else "")
        b = b or (selectors.compare_ref(model=model, version=int(vb)) if vb.isdigit() else "")
    return a, b


@require_GET
@permission_required(PERMISSION, raise_exception=True)
def compare(request: HttpRequest) -> HttpResponse:
    a_ref, b_ref = _refs(request)
    errors: list[str] = []
    sides: dict[str, selectors.CompareSide] = {}
    for key, ref in (("A", a_ref), ("B", b_ref)):
        if not ref:
            continue
        try:
            sides[key] = selectors.compare_side_get(ref)
        except selectors.CompareRefError as exc:
            errors.append(f"{key}: {exc}")
    context: dict[str, Any] = {
        "a_ref": a_ref,
        "b_ref": b_ref,
        "choices": selectors.compare_choices(),
        "errors": errors,
        "run_refs": {key: side.run.run_id for key, side in sides.items() if side.run is not None},
    }
    if "A" in sides and "B" in sides:
        context["cmp"] = selectors.comparison(sides["A"], sides["B"], commit_limit=COMMITS_SHOWN)
    return render(request, "lineage/compare.html", context, status=404 if errors else 200)
