"""The triggers that refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) of audit events: see
``apps.audit.triggers``. A later migration that alters ``AuditEvent`` must install them again (SQLite drops a
table's triggers when Django rebuilds it)."""

from django.db import migrations

from apps.audit import triggers


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    triggers.install(schema_editor.connection)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    triggers.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
