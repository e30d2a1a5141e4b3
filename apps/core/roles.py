"""The roles (groups) of DESIGN's "Roles" table, and the helper each app's data migration uses to grant its
permissions to them. Groups are cumulative: an auditor can do what a viewer can, an approver what an auditor can."""

from __future__ import annotations

from typing import Any

VIEWER = "viewer"
AUDITOR = "auditor"
APPROVER = "approver"
GROUPS = (VIEWER, AUDITOR, APPROVER)

# Who gets a permission granted "from" a role: that role and every role above it.
_CUMULATIVE = {VIEWER: (VIEWER, AUDITOR, APPROVER), AUDITOR: (AUDITOR, APPROVER), APPROVER: (APPROVER,)}


def grant_permissions(apps: Any, app_label: str, grants: dict[str, list[str]]) -> None:
    """In a data migration: create ``app_label``'s permissions now (they are otherwise made only after ``migrate``)
    and add each codename to the role named for it and the roles above. ``grants`` maps role → codenames."""
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config(app_label)
    models_module = getattr(app_config, "models_module", None)
    app_config.models_module = models_module or True  # create_permissions skips apps without a models module
    try:
        create_permissions(app_config, apps=apps, verbosity=0)
    finally:
        app_config.models_module = models_module
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, codenames in grants.items():
        perms = list(permission_model.objects.filter(content_type__app_label=app_label, codename__in=codenames))
        missing = set(codenames) - {p.codename for p in perms}
        if missing:
            raise RuntimeError(f"permissions not found for {app_label}: {sorted(missing)}")
        for group_name in _CUMULATIVE[role]:
            group, _ = group_model.objects.get_or_create(name=group_name)
            group.permissions.add(*perms)
