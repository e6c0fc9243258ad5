"""Findings grouped by rule: one index of the team's findings by check_id and repository, with
the severity and status the grouped page counts, so PostgreSQL reads them from the index alone
(an index-only scan in check_id and repository order, no sort) and finds a rule's findings
by it."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("triage", "0018_oidc_sso"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="finding",
            index=models.Index(
                fields=["team", "check_id", "repository", "severity", "status"],
                name="mirror_finding_team_rule",
            ),
        ),
    ]
