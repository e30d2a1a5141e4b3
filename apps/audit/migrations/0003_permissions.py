"""Grant the audit log page to the auditor role and up."""

from django.db import migrations

from apps.core.roles import AUDITOR, grant_permissions


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    grant_permissions(apps, "audit", {AUDITOR: ["view_auditevent"]})


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_triggers"), ("core", "0002_roles")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
