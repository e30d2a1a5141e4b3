"""Grant the lineage view permissions to every role (viewer and up): the join is what every page reads."""

from django.db import migrations

from apps.core.roles import VIEWER, grant_permissions


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    grant_permissions(apps, "lineage", {VIEWER: ["view_runlineage", "view_lineagelink"]})


class Migration(migrations.Migration):
    dependencies = [("lineage", "0001_initial"), ("core", "0002_roles")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
