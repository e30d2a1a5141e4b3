"""Pages of the promotions: the panel loaded into the model version page, the review-and-confirm page, a promotion's
page (with approve, reject and cancel), the list, and the home page's panel. Every change is a POST (CSRF-checked)
to one service; the permission is checked here and again in the service, and a refused attempt is recorded."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.audit.context import Actor
from apps.audit.selectors import events_for
from apps.lineage.selectors import model_version_url
from apps.mlflow_sync.models import ModelVersion
from apps.promotions import selectors, services
from apps.promotions.errors import PromotionDenied, PromotionError
from apps.promotions.models import Promotion

VIEW = "promotions.view_promotion"
PROMOTE = selectors.PERMISSION


def _version_or_404(pk: Any) -> ModelVersion:
    try:
        return ModelVersion.objects.select_related("model", "source", "run").get(pk=int(pk), deleted=False)
    except (ModelVersion.DoesNotExist, TypeError, ValueError):
        raise Http404("No such model version.") from None


def _promotion_or_404(pk: int) -> Promotion:
    try:
        return selectors.promotion_get(pk)
    except Promotion.DoesNotExist:
        raise Http404("No such promotion.") from None


def _next_url(request: HttpRequest, default: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def _refused(request: HttpRequest, attempted: str, what: str, target_type: str, target_id: Any) -> HttpResponse:
    """A POST by someone without the permission: recorded, and answered 403."""
    services.promotion_denied_attempt(
        actor=Actor.of(request.user), attempted=attempted, what=what, target_type=target_type, target_id=target_id
    )
    return render(request, "promotions/denied.html", {"what": what, "attempted": attempted}, status=403)


def _holder_rows(version: ModelVersion) -> list[dict[str, Any]]:
    """Each target of the version's model with who holds it now, whether this version does, and the rollback
    candidate (the previous holder of the alias)."""
    rows = []
    for target, holders in selectors.targets_with_holders(version.model):
        this_holds = holders.alias_version == version.version
        previous = selectors.previous_holder(version.model, target, holders.alias_version) if this_holds else None
        rows.append(
            {
                "target": target,
                "holders": holders,
                "this_holds": this_holds,
                "previous": ModelVersion.objects.filter(model=version.model, version=previous, deleted=False).first()
                if previous
                else None,
            }
        )
    return rows


@require_GET
@permission_required(VIEW, raise_exception=True)
def panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The promotion panel of the model version page: who holds each target, this version's promotions, the open
    ones of the model, and (for approvers) the form that leads to the review page."""
    version = _version_or_404(pk)
    return render(
        request,
        "promotions/partials/panel.html",
        {
            "mv": version,
            "rows": _holder_rows(version),
            "mine": selectors.promotions_of_version(version),
            "open": [p for p in selectors.open_promotions_of_model(version.model) if p.model_version_id != version.pk],
            "can_promote": request.user.has_perm(PROMOTE),
            "page_url": model_version_url(version),
        },
    )


@require_http_methods(["GET", "POST"])
@permission_required(VIEW, raise_exception=True)
def review(request: HttpRequest) -> HttpResponse:
    """GET: what promoting a version to a target would do and what the gates say now, with the form to confirm.
    POST: request it (``services.promotion_request``) and go to the promotion's page."""
    data = request.POST if request.method == "POST" else request.GET
    version = _version_or_404(data.get("version"))
    target_alias = str(data.get("target", "production"))[:255]
    what = f"{version.model.name} v{version.version} → {target_alias}"
    if not request.user.has_perm(PROMOTE):
        if request.method == "POST":
            return _refused(request, "request", what, "model_version", version.pk)
        return render(request, "promotions/denied.html", {"what": what, "attempted": "request"}, status=403)
    page = model_version_url(version)
    try:
        target = selectors.target_get(version.model, target_alias)
    except PromotionError as exc:
        messages.error(request, str(exc))
        return redirect(page)
    if request.method == "POST":
        try:
            promotion = services.promotion_request(
                version=version,
                target=target.alias,
                reason=str(request.POST.get("reason", ""))[:5000],
                actor=Actor.of(request.user),
                idempotency_key=str(request.POST.get("idempotency_key", ""))[:64],
            )
        except PromotionDenied as exc:
            messages.error(request, str(exc))
            return redirect(page)
        except PromotionError as exc:
            messages.error(request, str(exc))
            return redirect(reverse("promotions:review") + f"?version={version.pk}&target={target.alias}")
        messages.success(request, _requested_message(promotion))
        return redirect("promotions:detail", pk=promotion.pk)
    preview = selectors.promotion_preview(version=version, target=target)
    return render(
        request,
        "promotions/review.html",
        {
            "mv": version,
            "target": target,
            "preview": preview,
            "targets": selectors.model_targets(version.model),
            "idempotency_key": uuid.uuid4().hex,
            "page_url": page,
            "reason": str(request.GET.get("reason", ""))[:500],
        },
    )


def _requested_message(promotion: Promotion) -> str:
    what = f"{promotion.model.name} v{promotion.version} → {promotion.target_label}"
    if promotion.status == Promotion.Status.REFUSED:
        return f"{what} was refused by the gates; the attempt is recorded."
    if promotion.status == Promotion.Status.AWAITING_APPROVAL:
        return f"{what} is waiting for a second approver."
    return f"{what} is pending: it is written to MLflow shortly, and shown as promoted once MLflow confirms it."


@require_GET
@permission_required(VIEW, raise_exception=True)
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    promotion = _promotion_or_404(pk)
    user = request.user
    can_promote = user.has_perm(PROMOTE)
    mine = promotion.requested_by_id == user.pk
    return render(
        request,
        "promotions/detail.html",
        {
            "p": promotion,
            "events": events_for("promotion", promotion.pk),
            "can_see_audit": user.has_perm("audit.view_auditevent"),
            "can_approve": can_promote and not mine and promotion.status == Promotion.Status.AWAITING_APPROVAL,
            "can_reject": can_promote and not mine and promotion.status == Promotion.Status.AWAITING_APPROVAL,
            "can_cancel": (mine or can_promote)
            and promotion.status in (Promotion.Status.AWAITING_APPROVAL, Promotion.Status.PENDING)
            and promotion.write_started_at is None,
            "self_request": mine and promotion.status == Promotion.Status.AWAITING_APPROVAL,
            "version_url": model_version_url(promotion.model_version),
        },
    )


def _decide(request: HttpRequest, pk: int, attempted: str) -> HttpResponse:
    promotion = _promotion_or_404(pk)
    what = f"{promotion.model.name} v{promotion.version} → {promotion.target_label}"
    mine = promotion.requested_by_id == request.user.pk
    if not request.user.has_perm(PROMOTE) and not (attempted == "cancel" and mine):
        return _refused(request, attempted, what, "promotion", promotion.pk)
    note = str(request.POST.get("note", ""))[:5000]
    actor = Actor.of(request.user)
    try:
        if attempted == "approve":
            promotion = services.promotion_approve(promotion=promotion, actor=actor, note=note)
            messages.success(request, f"Approved. {_requested_message(promotion)}")
        elif attempted == "reject":
            services.promotion_reject(promotion=promotion, actor=actor, note=note)
            messages.success(request, f"{what} rejected.")
        else:
            services.promotion_cancel(promotion=promotion, actor=actor, note=note)
            messages.success(request, f"{what} cancelled.")
    except PromotionError as exc:
        messages.error(request, str(exc))
    return redirect(_next_url(request, reverse("promotions:detail", args=[promotion.pk])))


@require_POST
@permission_required(VIEW, raise_exception=True)
def approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, "approve")


@require_POST
@permission_required(VIEW, raise_exception=True)
def reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, "reject")


@require_POST
@permission_required(VIEW, raise_exception=True)
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, "cancel")


@require_GET
@permission_required(VIEW, raise_exception=True)
def promotion_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")[:20]
    model = request.GET.get("model", "").strip()[:256]
    page = Paginator(selectors.promotion_list(status=status, model=model), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "promotions/list.html",
        {
            "page": page,
            "status": status,
            "model": model,
            "statuses": Promotion.Status.choices,
            "waiting": selectors.awaiting_approval_for(request.user) if request.user.has_perm(PROMOTE) else [],
        },
    )


def home_panel_context(user: Any) -> dict[str, Any]:
    """The home page's promotions panel: requests waiting for this user's approval, and the newest promotions."""
    return {
        "waiting": selectors.awaiting_approval_for(user) if user.has_perm(PROMOTE) else [],
        "recent": list(selectors.promotion_list()[:6]),
    }
