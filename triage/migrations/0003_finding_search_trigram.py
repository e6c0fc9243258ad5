"""Trigram search over findings on PostgreSQL; SQLite keeps the plain LIKE scan.

`Finding.search_text` holds the lower-cased title, message, check id and file path, so a
`search_text__contains` filter becomes `LIKE '%term%'`, which a GIN `gin_trgm_ops` index
answers without reading every row.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEX_NAME = "mirror_finding_search_trgm"


class PostgresOnly(migrations.operations.base.Operation):
    """Run the wrapped operation on PostgreSQL only: trigram indexes have no SQLite form."""

    reduces_to_sql = False
    reversible = True

    def __init__(self, operation):
        self.operation = operation

    def state_forwards(self, app_label, state):
        # Neither the extension nor the raw index is part of the model state.
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            self.operation.database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            self.operation.database_backwards(app_label, schema_editor, from_state, to_state)

    def describe(self):
        return f"On PostgreSQL only: {self.operation.describe()}"

    def deconstruct(self):
        return (self.__class__.__qualname__, [self.operation], {})


class Migration(migrations.Migration):
    dependencies = [("triage", "0002_mirror_and_sync")]

    operations = [
        PostgresOnly(TrigramExtension()),
        PostgresOnly(
            migrations.RunSQL(
                sql=(
                    f"CREATE INDEX {INDEX_NAME} ON triage_finding "
                    "USING gin (search_text gin_trgm_ops)"
                ),
                reverse_sql=f"DROP INDEX IF EXISTS {INDEX_NAME}",
            )
        ),
    ]
