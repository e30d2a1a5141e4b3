"""Pages owned by ``core``: the overview, search, the sync history and the "Sync now" button."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from apps.core import registry, selectors, services
from apps.core.errors import AppError
from apps.core.models import SyncRun


@require_GET
@permission_required("core.view_syncrun", raise_exception=True)
def home(request: HttpRequest) -> HttpResponse:
    latest = selectors.syncrun_latest_per_source()
    sources = []
    for kind in registry.source_kinds().values():
        for source in kind.list_sources():
            sources.append({"kind": kind, "source": source, "latest": latest.get((kind.name, source.id))})
    return render(
        request,
        "core/home.html",
        {
            "sources": sources,
            "stats": registry.overview_stats(),
            "recent_syncs": selectors.syncrun_list()[:8],
            "panels": [
                render_to_string(panel.template, panel.context(request.user), request=request)
                for panel in registry.home_panels()
                if not panel.permission or request.user.has_perm(panel.permission)
            ],
        },
    )


# The order of the search page's groups; kinds not named here follow, in the order providers gave them.


@require_GET
def search(request: HttpRequest) -> HttpResponse:
    """Every provider's hits for the query, grouped by kind (``selectors.search_grouped``)."""
    query = request.GET.get("q", "").strip()[:200]
    groups = [{"name": kind, "hits": hits} for kind, hits in selectors.search_grouped(query, request.user)]
    return render(request, "core/search.html", {"query": query, "search_query": query, "groups": groups})


@require_GET
@permission_required("core.view_syncrun", raise_exception=True)
def sync_list(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind") or None
    status = request.GET.get("status") or None
    page = Paginator(selectors.syncrun_list(kind=kind, status=status), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "core/sync_list.html",
        {
            "page": page,
            "kind": kind or "",
            "status": status or "",
            "statuses": SyncRun.Status.choices,
            "kinds": list(registry.source_kinds().values()),
        },
    )


@staff_member_required
@require_POST
def sync_now(request: HttpRequest) -> HttpResponse:
    kind = request.POST.get("kind", "")
    try:
        source_id = int(request.POST.get("source_id", ""))
        run = services.sync_queue(
            kind=kind,
            source_id=source_id,
            full=request.POST.get("full") == "1",
            requested_by=request.user.get_username(),
        )
    except ValueError:
        messages.error(request, "No such source.")
    except AppError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Sync of {run.kind} source '{run.source_name}' queued.")
    next_url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(next_url)
    return redirect("core:home")
