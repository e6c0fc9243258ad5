"""A member's and a squad's findings indexed with their severity and first detection, so the
SLA-due order of an owner's findings is a walk of the index, severity by severity."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("triage", "0022_open_findings_by_owner_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="finding",
            name="mirror_finding_team_owner",
        ),
        migrations.RemoveIndex(
            model_name="finding",
            name="mirror_finding_team_squad",
        ),
        migrations.AddIndex(
            model_name="finding",
            index=models.Index(
                fields=["team", "owner_member", "severity", "first_detected_at"],
                name="mirror_finding_team_owner",
            ),
        ),
        migrations.AddIndex(
            model_name="finding",
            index=models.Index(
                fields=["team", "owner_squad", "severity", "first_detected_at"],
                name="mirror_finding_team_squad",
            ),
        ),
    ]
