"""Folding the finding counts' rows of changes into one row per group (`FindingCount`)."""

from __future__ import annotations

from django.db import connection as db
from django.db import transaction
from django.db.models import Sum

from triage.models import FindingCount

GROUP = ("team_id", "repository_id", "severity", "status")


def finding_counts_compact(*, team_id: int | None = None) -> int:
    """Replace the rows of each group (of one team, or of every team) by their sum; groups
    summing to zero go. Answers how many rows were folded away.

    On PostgreSQL in one statement: it deletes the rows committed when it starts and inserts
    their sums, so rows written meanwhile by other transactions are neither lost nor counted
    twice, and two foldings at once fold each row once (the second skips the rows the first
    deleted). SQLite has one writer at a time.
    """
    columns = ", ".join(GROUP)
    rows = (
        FindingCount.objects.all()
        if team_id is None
        else FindingCount.objects.filter(team_id=team_id)
    )
    with transaction.atomic():
        if db.vendor == "postgresql":
            where, params = ("", []) if team_id is None else ("WHERE team_id = %s", [team_id])
            with db.cursor() as cursor:
                cursor.execute(
                    f"WITH folded AS (DELETE FROM triage_findingcount {where} "
                    f"RETURNING {columns}, n), "
                    f"summed AS (INSERT INTO triage_findingcount ({columns}, n) "
                    f"SELECT {columns}, SUM(n) FROM folded GROUP BY {columns} "
                    "HAVING SUM(n) <> 0 RETURNING 1) "
                    "SELECT (SELECT COUNT(*) FROM folded) - (SELECT COUNT(*) FROM summed)",
                    params,
                )
                return cursor.fetchone()[0]
        before = rows.count()
        sums = list(rows.values(*GROUP).annotate(total=Sum("n")).exclude(total=0))
        rows.delete()
        FindingCount.objects.bulk_create(
            [FindingCount(n=row.pop("total"), **row) for row in sums], batch_size=1000
        )
        return before - len(sums)
