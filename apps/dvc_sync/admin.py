from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.audit.admin import AuditedAdmin
from apps.audit.context import Actor
from apps.core import services as core_services
from apps.core.errors import AppError
from apps.dvc_sync import gitrepo, services
from apps.dvc_sync.models import DvcRemote, DvcSource


class DvcRemoteInline(admin.TabularInline):
    """The remotes the "data retrievable" promotion gate checks (never those named in the repository)."""

    model = DvcRemote
    extra = 0
    fields = ("name", "url", "options", "credential_env", "enabled")
    verbose_name_plural = "DVC remotes the data-retrievable gate checks (set here only; never read from the repository)"


class DvcSourceForm(forms.ModelForm):
    class Meta:
        model = DvcSource
        fields = ["name", "location", "root", "refs", "web_url", "enabled"]

    def clean_location(self) -> str:
        """A local path must exist and be a git repository; the reason is shown on the field otherwise."""
        try:
            return gitrepo.check_location(self.cleaned_data.get("location", ""))
        except AppError as exc:
            raise forms.ValidationError(str(exc)) from exc


@admin.register(DvcSource)
class DvcSourceAdmin(AuditedAdmin):
    form = DvcSourceForm
    list_display = ("name", "location", "root", "refs", "enabled", "updated_at")
    list_filter = ("enabled",)
    search_fields = ("name", "location")
    actions = ["queue_sync"]
    inlines = [DvcRemoteInline]

    def save_object(self, obj: DvcSource, actor: Actor) -> None:
        services.dvc_source_save(source=obj, actor=actor)

    def delete_object(self, obj: DvcSource, actor: Actor) -> None:
        services.dvc_source_delete(source=obj, actor=actor)

    def save_formset(self, request, form, formset, change):  # type: ignore[no-untyped-def]
        actor = Actor.of(request.user)
        for remote in formset.save(commit=False):
            services.dvc_remote_save(remote=remote, actor=actor)
        for remote in formset.deleted_objects:
            services.dvc_remote_delete(remote=remote, actor=actor)

    def has_sync_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("dvc_sync.sync_dvcsource")

    @admin.action(description="Sync now (queue a sync of the selected sources)", permissions=["sync"])
    def queue_sync(self, request: HttpRequest, queryset: QuerySet[DvcSource]) -> None:
        for source in queryset:
            try:
                core_services.sync_queue(kind="dvc", source_id=source.pk, requested_by=request.user.get_username())
            except AppError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"Sync of '{source.name}' queued.", messages.SUCCESS)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"enabled": True}
