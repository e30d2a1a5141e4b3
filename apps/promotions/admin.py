import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from apps.audit.admin import AuditedAdmin
from apps.audit.context import Actor
from apps.core.admin import ReadOnlyAdmin
from apps.mlflow_sync.models import ModelVersion
from apps.promotions import selectors, services
from apps.promotions.errors import PromotionError
from apps.promotions.models import Promotion, PromotionPolicy


@admin.register(PromotionPolicy)
class PromotionPolicyAdmin(AuditedAdmin):
    """Gates, second approver and stage per model and target. Changes are recorded in the audit log."""

    list_display = ("model", "target", "stage", "stage_mode", "require_verdict", "require_retrievable", "four_eyes")
    list_filter = ("four_eyes", "require_verdict", "require_retrievable")
    search_fields = ("model__name", "target")
    autocomplete_fields = ()
    fieldsets = (
        (None, {"fields": ("model", "target")}),
        ("MLflow", {"fields": ("stage", "stage_mode", "archive_existing")}),
        ("Gates (all off until set)", {"fields": ("require_verdict", "metric_gates", "require_retrievable")}),
        ("Approval", {"fields": ("four_eyes",)}),
    )

    def save_object(self, obj: PromotionPolicy, actor: Actor) -> None:
        services.policy_save(policy=obj, actor=actor)

    def delete_object(self, obj: PromotionPolicy, actor: Actor) -> None:
        services.policy_delete(policy=obj, actor=actor)


@admin.register(Promotion)
class PromotionAdmin(ReadOnlyAdmin):
    """Read-only: promotions are made on the model version page, by the action on model versions or by
    ``manage.py promote``, and change only through their own pages."""

    list_display = ("pk", "model", "version", "target", "status", "requested_by_name", "requested_at")
    list_filter = ("status", "target")
    search_fields = ("model__name", "requested_by_name", "reason")
    readonly_fields = [f.name for f in Promotion._meta.fields]


class PromoteForm(forms.Form):
    target = forms.ChoiceField()
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 80}), max_length=5000)

    def __init__(self, *args, targets, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = [(t.alias, t.label) for t in targets]  # type: ignore[attr-defined]


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    """Model versions as the last sync mirrored them (read-only), with the promotion action."""

    list_display = ("model", "version", "stage", "aliases", "mlflow_run_id", "source", "deleted")
    list_filter = ("source", "stage", "deleted")
    search_fields = ("model__name", "mlflow_run_id")
    list_select_related = ("model", "source")
    actions = ["promote"]

    def has_view_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return request.user.has_perm("mlflow_sync.view_modelversion") or self.has_promote_permission(request)

    def has_promote_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(selectors.PERMISSION)

    @admin.action(description="Promote the selected model version…", permissions=["promote"])
    def promote(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> HttpResponse | None:
        """An intermediate page, as Django's own "delete selected": every target with its gates now, then the
        target and a reason; confirming calls the same service as the model version page."""
        versions = list(queryset.select_related("model", "source")[:2])
        if len(versions) != 1:
            self.message_user(request, "Select exactly one model version to promote.", messages.WARNING)
            return None
        version = versions[0]
        if version.deleted:
            self.message_user(request, f"{version} is deleted in MLflow.", messages.ERROR)
            return None
        targets = selectors.model_targets(version.model)
        form = PromoteForm(request.POST if "confirm" in request.POST else None, targets=targets)
        if form.is_valid():
            try:
                promotion = services.promotion_request(
                    version=version,
                    target=form.cleaned_data["target"],
                    reason=form.cleaned_data["reason"],
                    actor=Actor.of(request.user),
                    idempotency_key=str(request.POST.get("idempotency_key", ""))[:64],
                )
            except PromotionError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"Promotion #{promotion.pk} ({version} → {promotion.target_label}): "
                    f"{promotion.get_status_display()}.",
                    messages.SUCCESS if promotion.status != Promotion.Status.REFUSED else messages.ERROR,
                )
                return HttpResponseRedirect(reverse("promotions:detail", args=[promotion.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Promote {version.model.name} v{version.version}",
            "version": version,
            "previews": [selectors.promotion_preview(version=version, target=t) for t in targets],
            "form": form,
            "opts": self.model._meta,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "idempotency_key": request.POST.get("idempotency_key") or uuid.uuid4().hex,
        }
        return TemplateResponse(request, "admin/promotions/promote.html", context)
