"""The owner indexes end with the finding's id, the SLA-due order's tie-break: a page of
an owner's findings is read from them in order instead of sorting each severity's rows."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("triage", "0030_finding_search_table"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="finding",
            name="mirror_finding_open_member",
        ),
        migrations.RemoveIndex(
            model_name="finding",
            name="mirror_finding_open_squad",
        ),
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
                fields=["team", "owner_member", "severity", "first_detected_at", "id"],
                name="mirror_finding_team_owner",
            ),
        ),
        migrations.AddIndex(
            model_name="finding",
            index=models.Index(
                fields=["team", "owner_squad", "severity", "first_detected_at", "id"],
                name="mirror_finding_team_squad",
            ),
        ),
        migrations.AddIndex(
            model_name="finding",
            index=models.Index(
                condition=models.Q(("status__in", ["open", "needs_manual_review"])),
                fields=["team", "owner_member", "severity", "first_detected_at", "id"],
                name="mirror_finding_open_member",
            ),
        ),
        migrations.AddIndex(
            model_name="finding",
            index=models.Index(
                condition=models.Q(("status__in", ["open", "needs_manual_review"])),
                fields=["team", "owner_squad", "severity", "first_detected_at", "id"],
                name="mirror_finding_open_squad",
            ),
        ),
    ]
