"""Finding counts kept by triggers on the findings table (see `triage.models.counts`).

PostgreSQL: one statement-level trigger per event, reading the statement's transition tables,
so a sync's merge of a thousand findings adds a handful of rows, not a thousand. SQLite has
no transition tables: row-level triggers add one row per finding (SQLite is for
development). The triggers are created before the counts are filled, in the migration's
transaction, so no write falls between the two.
"""

from django.db import migrations, models

GROUP = "team_id, repository_id, severity, status"

POSTGRESQL = [
    f"""
    CREATE FUNCTION triage_finding_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO triage_findingcount ({GROUP}, n)
        SELECT {GROUP}, COUNT(*) FROM inserted GROUP BY {GROUP};
        RETURN NULL;
    END $$;
    """,
    f"""
    CREATE FUNCTION triage_finding_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO triage_findingcount ({GROUP}, n)
        SELECT {GROUP}, -COUNT(*) FROM deleted GROUP BY {GROUP};
        RETURN NULL;
    END $$;
    """,
    f"""
    CREATE FUNCTION triage_finding_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO triage_findingcount ({GROUP}, n)
        SELECT {GROUP}, SUM(n) FROM (
            SELECT {GROUP}, 1 AS n FROM after_update
            UNION ALL
            SELECT {GROUP}, -1 AS n FROM before_update
        ) AS moved
        GROUP BY {GROUP}
        HAVING SUM(n) <> 0;
        RETURN NULL;
    END $$;
    """,
    """
    CREATE TRIGGER triage_finding_count_inserted AFTER INSERT ON triage_finding
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION triage_finding_count_inserted();
    """,
    """
    CREATE TRIGGER triage_finding_count_deleted AFTER DELETE ON triage_finding
    REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION triage_finding_count_deleted();
    """,
    """
    CREATE TRIGGER triage_finding_count_updated AFTER UPDATE ON triage_finding
    REFERENCING OLD TABLE AS before_update NEW TABLE AS after_update
    FOR EACH STATEMENT EXECUTE FUNCTION triage_finding_count_updated();
    """,
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS triage_finding_count_inserted ON triage_finding;",
    "DROP TRIGGER IF EXISTS triage_finding_count_deleted ON triage_finding;",
    "DROP TRIGGER IF EXISTS triage_finding_count_updated ON triage_finding;",
    "DROP FUNCTION IF EXISTS triage_finding_count_inserted();",
    "DROP FUNCTION IF EXISTS triage_finding_count_deleted();",
    "DROP FUNCTION IF EXISTS triage_finding_count_updated();",
]

SQLITE = [
    f"""
    CREATE TRIGGER triage_finding_count_inserted AFTER INSERT ON triage_finding BEGIN
        INSERT INTO triage_findingcount ({GROUP}, n)
        VALUES (NEW.team_id, NEW.repository_id, NEW.severity, NEW.status, 1);
    END;
    """,
    f"""
    CREATE TRIGGER triage_finding_count_deleted AFTER DELETE ON triage_finding BEGIN
        INSERT INTO triage_findingcount ({GROUP}, n)
        VALUES (OLD.team_id, OLD.repository_id, OLD.severity, OLD.status, -1);
    END;
    """,
    f"""
    CREATE TRIGGER triage_finding_count_updated
    AFTER UPDATE OF team_id, repository_id, severity, status ON triage_finding
    WHEN OLD.team_id IS NOT NEW.team_id OR OLD.repository_id IS NOT NEW.repository_id
        OR OLD.severity IS NOT NEW.severity OR OLD.status IS NOT NEW.status
    BEGIN
        INSERT INTO triage_findingcount ({GROUP}, n)
        VALUES (OLD.team_id, OLD.repository_id, OLD.severity, OLD.status, -1);
        INSERT INTO triage_findingcount ({GROUP}, n)
        VALUES (NEW.team_id, NEW.repository_id, NEW.severity, NEW.status, 1);
    END;
    """,
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS triage_finding_count_inserted;",
    "DROP TRIGGER IF EXISTS triage_finding_count_deleted;",
    "DROP TRIGGER IF EXISTS triage_finding_count_updated;",
]

FILL = f"""
    INSERT INTO triage_findingcount ({GROUP}, n)
    SELECT {GROUP}, COUNT(*) FROM triage_finding GROUP BY {GROUP}
"""


def _run(schema_editor, statements) -> None:
    with schema_editor.connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def triggers_create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    _run(schema_editor, [*(POSTGRESQL if vendor == "postgresql" else SQLITE), FILL])


def triggers_drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    _run(schema_editor, POSTGRESQL_REVERSE if vendor == "postgresql" else SQLITE_REVERSE)


class Migration(migrations.Migration):
    dependencies = [
        ("triage", "0032_upkeep_event_retention"),
    ]

    operations = [
        migrations.CreateModel(
            name="FindingCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("team_id", models.BigIntegerField()),
                ("repository_id", models.BigIntegerField()),
                ("severity", models.CharField(max_length=20)),
                ("status", models.CharField(max_length=40)),
                ("n", models.BigIntegerField()),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["team_id", "status", "repository_id", "severity", "n"],
                        name="finding_count_group",
                    )
                ],
            },
        ),
        migrations.RunPython(triggers_create, triggers_drop),
    ]
