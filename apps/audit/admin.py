from typing import Any

from django.contrib import admin

from apps.audit.context import Actor
from apps.audit.models import AuditEvent
from apps.core.admin import ReadOnlyAdmin


class AuditedAdmin(admin.ModelAdmin):
    """An admin whose adds, edits and deletions go through the services that record them in the audit log: a
    subclass says how in ``save_object`` and ``delete_object``."""

    def save_object(self, obj: Any, actor: Actor) -> None:
        raise NotImplementedError

    def delete_object(self, obj: Any, actor: Actor) -> None:
        raise NotImplementedError

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        self.save_object(obj, Actor.of(request.user))

    def delete_model(self, request, obj):  # type: ignore[no-untyped-def]
        self.delete_object(obj, Actor.of(request.user))

    def delete_queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        for obj in queryset:
            self.delete_object(obj, Actor.of(request.user))


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: events are appended by the services that make the changes, never edited or deleted."""

    list_display = ("seq", "at", "actor_name", "action", "target_type", "target_text")
    list_filter = ("action", "target_type")
    search_fields = ("actor_name", "target_text", "target_id", "reason")
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
