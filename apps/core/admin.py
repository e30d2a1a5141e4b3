from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from apps.core import tokens
from apps.core.models import ApiToken, SyncRun


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows other parts of the product write (the audit log, promotions, the mirror): the admin shows them only."""

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


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


class ApiTokenAddForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["user", "name"]

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        if "user" in self.fields:  # absent on the read-only page of an existing token
            self.fields["user"].queryset = get_user_model().objects.filter(is_active=True).order_by("username")  # type: ignore[attr-defined]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Say what the token is for, e.g. ci-deploy-gate.")
        return name


class RevokedFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):  # type: ignore[no-untyped-def]
        return [("active", "Active"), ("revoked", "Revoked")]

    def queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are made here (the key is shown once, in the success message) and revoked here; never edited. Adding
    needs ``core.add_apitoken``, revoking ``core.change_apitoken``; only superusers may delete a row outright."""

    list_display = ("name", "user", "prefix", "created_at", "created_by", "last_used_at", "revoked_at")
    list_filter = (RevokedFilter,)
    list_select_related = ("user",)
    search_fields = ("name", "prefix", "user__username")
    actions = ["revoke_selected"]
    form = ApiTokenAddForm
    shown_fields = ("user", "name", "prefix", "created_at", "created_by", "last_used_at", "revoked_at", "revoked_by")

    def get_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        return ["user", "name"] if obj is None else list(self.shown_fields)

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        return () if obj is None else self.shown_fields

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return request.user.is_superuser

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("core.change_apitoken")

    def add_view(self, request, form_url="", extra_context=None):  # type: ignore[no-untyped-def]
        extra_context = {**(extra_context or {}), "show_save_and_add_another": False, "show_save_and_continue": False}
        return super().add_view(request, form_url, extra_context)

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        token, key = tokens.api_token_create(user=obj.user, name=obj.name, created_by=request.user.get_username())
        # The admin goes on with ``obj`` (its log entry, the redirect): make it the row the service created.
        for field in ApiToken._meta.concrete_fields:
            setattr(obj, field.attname, getattr(token, field.attname))
        obj._state.adding = False
        obj._state.db = token._state.db
        self.message_user(
            request,
            format_html(
                "API token “{}” created for {}. Copy its key now, it is not shown again: <code>{}</code>",
                token.name,
                token.user.get_username(),
                key,
            ),
            messages.SUCCESS,
        )

    def response_add(self, request, obj, post_url_continue=None):  # type: ignore[no-untyped-def]
        # Back to the list with only the message above (the default one would add a link to a read-only page).
        return HttpResponseRedirect(reverse("admin:core_apitoken_changelist"))

    @admin.action(description="Revoke selected API tokens", permissions=["revoke"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> HttpResponse | None:
        revoked = 0
        for token in queryset.filter(revoked_at__isnull=True):
            tokens.api_token_revoke(token=token, by=request.user.get_username())
            revoked += 1
        self.message_user(request, f"{revoked} API token{'s' if revoked != 1 else ''} revoked.", messages.SUCCESS)
        return None
