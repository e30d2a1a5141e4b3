"""Grant the DVC mirror's view permissions to every role (viewer and up)."""

from django.db import migrations

from apps.core.roles import VIEWER, grant_permissions


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    grant_permissions(
        apps,
        "dvc_sync",
        {
            VIEWER: [
                "view_dvcsource", "view_commit", "view_ref", "view_snapshot", "view_pipelinegraph",
                "view_dataversion", "view_pin", "view_artifactevent", "view_artifactstage",
            ]
        },
    )


class Migration(migrations.Migration):
    dependencies = [("dvc_sync", "0001_initial"), ("core", "0002_roles")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
