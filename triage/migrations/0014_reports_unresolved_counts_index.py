"""The dashboard's partial index covers every unresolved finding, not only `open` ones.

The dashboard counts "open" findings as the reports do: a finding that still needs work,
status open or needs manual review (`Finding.objects.unresolved`). Its grouped count by
repository and severity keeps an index-only scan on PostgreSQL when the partial index's
condition is the query's. Like 0008, the index stays out of the model state.
"""

from django.db import migrations

OLD_INDEX = "mirror_finding_open_repo_sev"
INDEX_NAME = "mirror_finding_unresolved_repo_sev"


class Migration(migrations.Migration):
    dependencies = [
        ("triage", "0013_pull_request_merge_status_choices"),
    ]

    operations = [
        migrations.RunSQL(
            sql=[
                f"DROP INDEX IF EXISTS {OLD_INDEX}",
                f"CREATE INDEX IF NOT EXISTS {INDEX_NAME} ON triage_finding "
                "(team_id, repository_id, severity) "
                "WHERE status IN ('open', 'needs_manual_review')",
            ],
            reverse_sql=[
                f"DROP INDEX IF EXISTS {INDEX_NAME}",
                f"CREATE INDEX IF NOT EXISTS {OLD_INDEX} ON triage_finding "
                "(team_id, repository_id, severity) WHERE status = 'open'",
            ],
        ),
    ]
