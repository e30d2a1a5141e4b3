from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.audit.admin import AuditedAdmin
from apps.audit.context import Actor
from apps.core import services as core_services
from apps.core.errors import AppError
from apps.mlflow_sync import services
from apps.mlflow_sync.models import MlflowSource


@admin.register(MlflowSource)
class MlflowSourceAdmin(AuditedAdmin):
    list_display = ("name", "tracking_uri", "registry_uri", "enabled", "updated_at")
    list_filter = ("enabled",)
    search_fields = ("name", "tracking_uri")
    fieldsets = (
        (None, {"fields": ("name", "tracking_uri", "registry_uri", "ui_url", "enabled")}),
        (
            "Credentials (names of environment variables; the values are never stored)",
            {"fields": ("username_env", "password_env", "token_env")},
        ),
    )
    actions = ["queue_sync"]

    def save_object(self, obj: MlflowSource, actor: Actor) -> None:
        services.mlflow_source_save(source=obj, actor=actor)

    def delete_object(self, obj: MlflowSource, actor: Actor) -> None:
        services.mlflow_source_delete(source=obj, actor=actor)

    def has_sync_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("mlflow_sync.sync_mlflowsource")

    @admin.action(description="Sync now (queue a sync of the selected sources)", permissions=["sync"])
    def queue_sync(self, request: HttpRequest, queryset: QuerySet[MlflowSource]) -> None:
        for source in queryset:
            try:
                core_services.sync_queue(kind="mlflow", source_id=source.pk, requested_by=request.user.get_username())
            except AppError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"Sync of '{source.name}' queued.", messages.SUCCESS)
