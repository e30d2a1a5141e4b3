"""An index on LineageLink (data_version, run): the data version page reads a page of a version's links in run
order, counts their distinct runs and probes "is this run trained on it" from it alone, without sorting or reading
the rows (2.2M links in the benchmark).

Raw SQL without model state: ``apps/lineage/models.py`` belongs to another change, and an index Django does not
know of does not make ``makemigrations`` see a difference. ``IF NOT EXISTS`` works on SQLite and PostgreSQL."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("lineage", "0002_permissions")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS lineage_link_dv_run ON lineage_lineagelink (data_version_id, run_id)",
            reverse_sql="DROP INDEX IF EXISTS lineage_link_dv_run",
        )
    ]
