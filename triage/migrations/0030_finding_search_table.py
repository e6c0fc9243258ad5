"""A finding's search text moves to a table of its own, with the trigram index.

Every index of the findings table is written again whenever a finding's row moves (an owner
change, a new last-seen time); the trigram index over the search text was the costliest of
them. Beside the finding, the text and its index are written only when the text changes.
"""

from importlib import import_module

import django.db.models.deletion
from django.db import migrations, models

# Trigram indexes have no SQLite form: the operation migration 0003 defines for them.
PostgresOnly = import_module("triage.migrations.0003_finding_search_trigram").PostgresOnly

OLD_INDEX = "mirror_finding_search_trgm"
NEW_INDEX = "finding_search_text_trgm"


class Migration(migrations.Migration):
    dependencies = [("triage", "0029_finding_redundant_indexes")]

    operations = [
        migrations.CreateModel(
            name="FindingSearch",
            fields=[
                (
                    "finding",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="search",
                        serialize=False,
                        to="triage.finding",
                    ),
                ),
                ("text", models.TextField(default="")),
            ],
        ),
        migrations.RunSQL(
            sql=(
                "INSERT INTO triage_findingsearch (finding_id, text) "
                "SELECT id, search_text FROM triage_finding"
            ),
            reverse_sql=migrations.RunSQL.noop,
        ),
        PostgresOnly(
            migrations.RunSQL(
                sql=(
                    f"CREATE INDEX {NEW_INDEX} ON triage_findingsearch "
                    "USING gin (text gin_trgm_ops)"
                ),
                reverse_sql=f"DROP INDEX IF EXISTS {NEW_INDEX}",
            )
        ),
        PostgresOnly(
            migrations.RunSQL(
                sql=f"DROP INDEX IF EXISTS {OLD_INDEX}",
                reverse_sql=(
                    f"CREATE INDEX {OLD_INDEX} ON triage_finding "
                    "USING gin (search_text gin_trgm_ops)"
                ),
            )
        ),
        # Going back: the column returns (empty), then takes the texts before the table goes.
        migrations.RunSQL(
            sql=migrations.RunSQL.noop,
            reverse_sql=(
                "UPDATE triage_finding SET search_text = ("
                "SELECT text FROM triage_findingsearch WHERE finding_id = triage_finding.id)"
            ),
        ),
        migrations.RemoveField(model_name="finding", name="search_text"),
    ]
