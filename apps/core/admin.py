from django.contrib import admin

from apps.core.models import SyncRun


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "source_name", "status", "trigger", "message")
    list_filter = ("kind", "status", "trigger")
    search_fields = ("source_name", "message", "error")
    readonly_fields = [f.name for f in SyncRun._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
