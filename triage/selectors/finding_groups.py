"""Findings grouped by rule (``check_id``) across repositories: one row per rule with its
highest severity, how many findings it has in each status, and in how many repositories.

One query reads a page of rules: the filtered findings are aggregated per rule in one pass,
streamed in rule order from the index on team, check_id, repository, severity and status
(the repositories of a rule come in order too, so counting the distinct ones is cheap). An
earlier form counted per rule, repository, severity and status first and summed those rows
twice; at 100,000 findings its tens of thousands of intermediate rows were hashed and sorted,
spilling to disk, and the page took about twice as long. A window over the rules tells the
pager how many there are, and only the page's rules look up a title: one query whatever the
number of rules or findings (two past the last page).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from django.core.paginator import Page, Paginator
from django.db import connections
from django.db.models import Case, Count, Max, Q, QuerySet, When

from triage.models import Finding, FindingStatus, Severity

GROUPS_PAGE_SIZE = 50
# The findings of one rule shown inline when its row is opened.
GROUP_FINDINGS_PAGE_SIZE = 20
# A page number from the URL beyond this reads the last page (an OFFSET must fit a bigint).
MAX_PAGE_NUMBER = 1_000_000

# SEVERITY_RANK's values back to the severity they stand for.
SEVERITY_OF_RANK = {5: "critical", 4: "high", 3: "medium", 2: "low", 1: "info"}
STATUS_COLUMNS = {status: f"status_{status}" for status in FindingStatus.values}


@dataclass
class RuleGroup:
    check_id: str
    title: str
    severity: str
    status_counts: list[tuple[str, str, int]]  # (status, label, count) in FindingStatus order
    repositories: int
    total: int

    @property
    def severity_label(self) -> str:
        return Severity(self.severity).label if self.severity in Severity.values else ""


def _per_rule(queryset: QuerySet[Finding]) -> QuerySet:
    """Per rule: the highest severity rank, the findings, the findings per status and the
    repositories, aggregated in one pass over the filtered findings in rule order."""
    ranks = [When(severity=severity, then=rank) for rank, severity in SEVERITY_OF_RANK.items()]
    # Counted on a column of the index (not the id), so the findings are read from it alone.
    per_status = {
        column: Count("status", filter=Q(status=status))
        for status, column in STATUS_COLUMNS.items()
    }
    return (
        queryset.order_by()
        .values("team_id", "check_id")
        .annotate(
            top_rank=Max(Case(*ranks, default=1)),
            total=Count("*"),
            repositories=Count("repository_id", distinct=True),
            **per_status,
        )
    )


def _rule_groups_sql(queryset: QuerySet[Finding]) -> tuple[str, tuple]:
    inner, params = _per_rule(queryset).query.sql_with_params()
    columns = ", ".join(f"g.{column}" for column in STATUS_COLUMNS.values())
    table = connections[queryset.db].ops.quote_name(Finding._meta.db_table)
    # Any finding's title stands for its rule; the subquery runs for the page's rows only.
    sql = (
        "SELECT g.check_id AS check_id, g.top_rank AS top_rank, g.total AS total, "
        f"g.repositories AS repositories, {columns}, "
        "COUNT(*) OVER () AS rule_count, "
        f"(SELECT t.title FROM {table} t WHERE t.team_id = g.team_id "
        "AND t.check_id = g.check_id LIMIT 1) AS any_title "
        f"FROM ({inner}) g "
        "ORDER BY top_rank DESC, total DESC, check_id ASC LIMIT %s OFFSET %s"
    )
    return sql, params


def rule_groups(queryset: QuerySet[Finding], *, offset: int, limit: int) -> list[dict]:
    """``limit`` rules of ``queryset`` from ``offset``: most severe rules first, then the rules
    with the most findings; rows are dicts (read them with ``rule_group_of``), each with the
    number of rules in ``rule_count``."""
    sql, params = _rule_groups_sql(queryset)
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, (*params, limit, offset))
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def rule_group_count(queryset: QuerySet[Finding]) -> int:
    """How many rules ``queryset`` has (cheaper than counting the aggregate rows)."""
    return queryset.order_by().values("check_id").distinct().count()


def rule_group_of(row: dict) -> RuleGroup:
    return RuleGroup(
        check_id=row["check_id"],
        title=row["any_title"] or "",
        severity=SEVERITY_OF_RANK.get(row["top_rank"], ""),
        status_counts=[
            (status, label, int(row[STATUS_COLUMNS[status]] or 0))
            for status, label in FindingStatus.choices
        ],
        repositories=int(row["repositories"]),
        total=int(row["total"]),
    )


class _CountedPaginator(Paginator):
    """A paginator told its count (read with the page's rows) rather than counting."""

    def __init__(self, count: int, per_page: int):
        super().__init__([], per_page)
        self._count = count

    @cached_property
    def count(self) -> int:
        return self._count


def _page_number(value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return 1
    return min(max(number, 1), MAX_PAGE_NUMBER)


def rule_groups_page(queryset: QuerySet[Finding], *, number, per_page: int | None = None) -> Page:
    """Page ``number`` (as the URL gave it) of ``queryset``'s rule groups; a number that is
    not one, or is past the last page, reads the first or the last page."""
    per_page = per_page or GROUPS_PAGE_SIZE
    number = _page_number(number)
    rows = rule_groups(queryset, offset=(number - 1) * per_page, limit=per_page)
    if not rows and number > 1:
        count = rule_group_count(queryset)
        number = max(1, -(-count // per_page))
        rows = rule_groups(queryset, offset=(number - 1) * per_page, limit=per_page)
    count = int(rows[0]["rule_count"]) if rows else 0
    return Page([rule_group_of(row) for row in rows], number, _CountedPaginator(count, per_page))
