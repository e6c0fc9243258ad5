"""Indexes for the findings triage table's sorts and keyset pages.

Each sort of the table orders by one column (or the severity rank) and then the id, and a
page continues with a row-value comparison on the same pair. An index on (team, column, id)
lets PostgreSQL walk the team's findings in that order from the cursor and stop after 51
rows, instead of sorting every matching finding (hundreds of milliseconds at 100,000). The
severity rank is the same CASE expression the selector orders by. Kept out of the model
state, like 0003 and 0008, because the mirror's models belong to the sync code; SQLite
accepts the same statements.
"""

from django.db import migrations

SEVERITY_RANK_SQL = (
    "(CASE WHEN severity = 'critical' THEN 5 WHEN severity = 'high' THEN 4 "
    "WHEN severity = 'medium' THEN 3 WHEN severity = 'low' THEN 2 ELSE 1 END)"
)
INDEXES = {
    "mirror_finding_triage_sev": SEVERITY_RANK_SQL,
    "mirror_finding_triage_first": "first_detected_at",
    "mirror_finding_triage_last": "last_detected_at",
    "mirror_finding_triage_file": "file_path",
}


class Migration(migrations.Migration):
    dependencies = [
        ("triage", "0008_finding_open_counts_index"),
    ]

    operations = [
        migrations.RunSQL(
            sql=f"CREATE INDEX IF NOT EXISTS {name} ON triage_finding (team_id, {column}, id)",
            reverse_sql=f"DROP INDEX IF EXISTS {name}",
        )
        for name, column in INDEXES.items()
    ]
