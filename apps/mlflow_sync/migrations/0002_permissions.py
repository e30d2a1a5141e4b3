"""Grant the MLflow mirror's view permissions to every role (viewer and up)."""

from django.db import migrations

from apps.core.roles import VIEWER, grant_permissions


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    grant_permissions(
        apps,
        "mlflow_sync",
        {
            VIEWER: [
                "view_mlflowsource", "view_experiment", "view_run", "view_datasetinput", "view_metrichistory",
                "view_registeredmodel", "view_modelversion",
            ]
        },
    )


class Migration(migrations.Migration):
    dependencies = [("mlflow_sync", "0001_initial"), ("core", "0002_roles")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
