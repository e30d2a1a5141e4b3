"""Create the roles (groups) and grant ``core``'s own permissions to them."""

from django.db import migrations

from apps.core.roles import GROUPS, VIEWER, grant_permissions


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    group_model = apps.get_model("auth", "Group")
    for name in GROUPS:
        group_model.objects.get_or_create(name=name)
    grant_permissions(apps, "core", {VIEWER: ["view_syncrun"]})


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
