"""LineageLink keeps only the indexes its reads use: (data_version, run) for impact (created by 0003 in SQL,
adopted into the model state here) and run (the run's links). The md5, source and commit indexes went: nothing
searches links by them, and each cost time on every join recomputation of millions of rows."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dvc_sync", "0003_dvcsource_web_url"),
        ("lineage", "0003_lineagelink_data_version_run_index"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="lineagelink", name="lineage_link_md5"),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(
                    model_name="lineagelink",
                    index=models.Index(fields=["data_version", "run"], name="lineage_link_dv_run"),
                )
            ]
        ),
        migrations.AlterField(
            model_name="lineagelink",
            name="data_version",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="lineage_links",
                to="dvc_sync.dataversion",
            ),
        ),
        migrations.AlterField(
            model_name="lineagelink",
            name="dvc_source",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                to="dvc_sync.dvcsource",
            ),
        ),
        migrations.AlterField(
            model_name="lineagelink",
            name="commit",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="dvc_sync.commit",
            ),
        ),
    ]
