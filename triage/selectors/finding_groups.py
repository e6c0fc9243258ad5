"""Findings grouped by rule (``check_id``) across repositories: one row per rule with its
highest severity, how many findings it has in each status, and in how many repositories.

One query reads a page of rules in three steps: the filtered findings are first only counted
per rule, repository, severity and status, streamed in that order from the index on those
columns without a sort (nothing worked out per finding); those few rows are summed per rule
and repository (the highest severity, the counts per status), then per rule, where the
repository count is their number (no ``COUNT(DISTINCT)``, which sorts every rule's findings).
A window over the rules tells the pager how many there are, and only the page's rules look up
a title: one query whatever the number of rules or findings (two past the last page).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from django.core.paginator import Page, Paginator
from django.db import connections
from django.db.models import Count, QuerySet

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


def _per_status(queryset: QuerySet[Finding]) -> QuerySet:
    """The first step: how many findings per rule, repository, severity and status: the key
    of the index on team, check_id, repository, severity and status, so the rows are read
    from it in order and only counted (no expression worked out per finding)."""
    return (
        queryset.order_by()
        .values("team_id", "check_id", "repository_id", "severity", "status")
        .annotate(n=Count("*"))
    )


def _per_repository_sql(queryset: QuerySet[Finding]) -> tuple[str, tuple]:
    """The second step, over the first's few rows: per rule and repository, the highest
    severity rank, the findings and the findings per status."""
    inner, inner_params = _per_status(queryset).query.sql_with_params()
    ranks = " ".join(f"WHEN s.severity = %s THEN {rank}" for rank in SEVERITY_OF_RANK)
    per_status = ", ".join(
        f"SUM(CASE WHEN s.status = %s THEN s.n ELSE 0 END) AS {column}"
        for column in STATUS_COLUMNS.values()
    )
    sql = (
        "SELECT s.team_id AS team_id, s.check_id AS check_id, "
        f"MAX(CASE {ranks} ELSE 1 END) AS top_rank, SUM(s.n) AS total, {per_status} "
        f"FROM ({inner}) s GROUP BY s.team_id, s.check_id, s.repository_id"
    )
    params = (*SEVERITY_OF_RANK.values(), *STATUS_COLUMNS, *inner_params)
    return sql, params


def _rule_groups_sql(queryset: QuerySet[Finding]) -> tuple[str, tuple]:
    inner, params = _per_repository_sql(queryset)
    sums = ", ".join(f"SUM(g.{column}) AS {column}" for column in STATUS_COLUMNS.values())
    table = connections[queryset.db].ops.quote_name(Finding._meta.db_table)
    # Any finding's title stands for its rule; the subquery runs for the page's rows only.
    sql = (
        "SELECT g.check_id AS check_id, MAX(g.top_rank) AS top_rank, "
        f"SUM(g.total) AS total, COUNT(*) AS repositories, {sums}, "
        "COUNT(*) OVER () AS rule_count, "
        f"(SELECT t.title FROM {table} t WHERE t.team_id = g.team_id "
        "AND t.check_id = g.check_id LIMIT 1) AS any_title "
        f"FROM ({inner}) g GROUP BY g.team_id, g.check_id "
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
