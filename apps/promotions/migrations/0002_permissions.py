"""Every role sees the promotions and their history; the approver role promotes and approves."""

from django.db import migrations

from apps.core.roles import APPROVER, VIEWER, grant_permissions


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    grant_permissions(apps, "promotions", {VIEWER: ["view_promotion"], APPROVER: ["promote_modelversion"]})


class Migration(migrations.Migration):
    dependencies = [("promotions", "0001_initial"), ("core", "0002_roles")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
