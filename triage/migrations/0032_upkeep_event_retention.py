import django.db.models.deletion
from django.db import migrations, models

# The findings and events tables hold millions of rows: PostgreSQL's default thresholds (20 %
# of the table changed before a vacuum, 10 % before an analyze) would wait for hundreds of
# thousands of dead or changed rows. These vacuum after 2 % and analyze after 1 %.
AUTOVACUUM_TABLES = ("triage_finding", "triage_findingevent")
AUTOVACUUM_SETTINGS = {
    "autovacuum_vacuum_scale_factor": "0.02",
    "autovacuum_analyze_scale_factor": "0.01",
}


def autovacuum_set(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    settings = ", ".join(f"{name} = {value}" for name, value in AUTOVACUUM_SETTINGS.items())
    for table in AUTOVACUUM_TABLES:
        schema_editor.execute(f"ALTER TABLE {table} SET ({settings})")


def autovacuum_reset(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in AUTOVACUUM_TABLES:
        schema_editor.execute(f"ALTER TABLE {table} RESET ({', '.join(AUTOVACUUM_SETTINGS)})")


class Migration(migrations.Migration):
    dependencies = [
        ("triage", "0031_owner_indexes_with_id"),
    ]

    operations = [
        migrations.AddField(
            model_name="syncstate",
            name="events_pruned_before",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name="FindingEventBaseline",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("finding_upstream_id", models.CharField(max_length=64)),
                ("status", models.CharField(blank=True, max_length=40, null=True)),
                ("severity", models.CharField(max_length=20)),
                ("as_of", models.DateTimeField()),
                (
                    "connection",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="triage.kolegaconnection",
                    ),
                ),
                (
                    "team",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="triage.team",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["team"], name="mirror_event_baseline_team")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("connection", "finding_upstream_id"),
                        name="mirror_event_baseline_finding",
                    )
                ],
            },
        ),
        migrations.RunPython(autovacuum_set, autovacuum_reset, elidable=False),
    ]
