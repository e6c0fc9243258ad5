"""Two indexes of findings that another one already answers, dropped: every index is written
again each time a finding's row moves (an UPDATE that changes an indexed column, such as an
owner change, writes a new entry in each), so each one slows the rule evaluation and the sync.

- `mirror_finding_team_lastdet` (team, last_detected_at DESC): `mirror_finding_triage_last`
  (team, last_detected_at, id, migration 0009) read backwards gives the same order, and the
  keyset pages' (last_detected_at, id) comparison too.
- The repository foreign key's own index: `mirror_finding_repo_status` (repository, status)
  starts with it, for a repository's findings and for deleting a repository.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("triage", "0028_campaigns"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="finding",
            name="mirror_finding_team_lastdet",
        ),
        migrations.AlterField(
            model_name="finding",
            name="repository",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="findings",
                to="triage.repository",
            ),
        ),
    ]
