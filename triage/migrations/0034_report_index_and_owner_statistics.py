"""Reports at a million findings: time-to-remediate read from a covering index, and the
planner told how few owner × severity groups there are.

Without extended statistics PostgreSQL multiplies the distinct squads, members and
severities and expects some hundred thousand groups where a team has a few dozen, so it
sorts every open finding on disk instead of hashing them (250 ms against 70 ms at a million).
"""

from django.conf import settings
from django.db import migrations, models

STATISTICS = (
    "CREATE STATISTICS IF NOT EXISTS triage_finding_owner_groups (ndistinct) "
    "ON owner_squad_id, owner_member_id, severity FROM triage_finding"
)


def statistics_create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(STATISTICS)
        schema_editor.execute("ANALYZE triage_finding")


def statistics_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP STATISTICS IF EXISTS triage_finding_owner_groups")


class Migration(migrations.Migration):
    dependencies = [
        ("triage", "0033_finding_counts"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="finding",
            name="mirror_finding_team_resolved",
        ),
        migrations.AddIndex(
            model_name="finding",
            index=models.Index(
                condition=models.Q(("resolved_at__isnull", False)),
                fields=["team", "resolved_at"],
                include=(
                    "id",
                    "status",
                    "severity",
                    "first_detected_at",
                    "owner_squad",
                    "owner_member",
                ),
                name="mirror_finding_resolved_cover",
            ),
        ),
        migrations.RunPython(statistics_create, statistics_drop),
    ]
