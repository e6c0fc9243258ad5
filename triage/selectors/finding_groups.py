"""Findings grouped by rule (``check_id``) across repositories: one row per rule with its
highest severity, how many findings it has in each status, and in how many repositories.

One aggregate query reads a page of rules (conditional counts, ``COUNT(...) FILTER (WHERE ...)``
on PostgreSQL) and, in a window over the groups, how many rules there are for the pager: one
query whatever the number of rules or findings (two past the last page).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from django.core.paginator import Page, Paginator
from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery, Window

from triage.models import Finding, FindingStatus, Severity
from triage.selectors.findings import SEVERITY_RANK

GROUPS_PAGE_SIZE = 50
# The findings of one rule shown inline when its row is opened.
GROUP_FINDINGS_PAGE_SIZE = 20
# A page number from the URL beyond this reads the last page (an OFFSET must fit a bigint).
MAX_PAGE_NUMBER = 1_000_000

# SEVERITY_RANK's values back to the severity they stand for.
SEVERITY_OF_RANK = {5: "critical", 4: "high", 3: "medium", 2: "low", 1: "info"}


def _status_alias(status: str) -> str:
    return f"status_{status}"


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


def rule_groups(queryset: QuerySet[Finding]) -> QuerySet:
    """``queryset`` grouped by rule, most severe rules first, then the rules with the most
    findings; rows are dicts (read them with ``rule_group_of``)."""
    per_status = {
        _status_alias(status): Count("check_id", filter=Q(status=status))
        for status in FindingStatus.values
    }
    # Only indexed columns are aggregated (an index-only scan); the title is looked up for
    # the rules of the page alone.
    titles = Finding.objects.filter(
        team_id=OuterRef("team_id"), check_id=OuterRef("check_id")
    ).order_by()
    return (
        queryset.order_by()
        .values("team_id", "check_id")
        .annotate(
            top_rank=Max(SEVERITY_RANK),
            repositories=Count("repository_id", distinct=True),
            total=Count("*"),
            # Every row carries the number of rules, so the pager needs no second scan.
            rule_count=Window(Count("check_id")),
            **per_status,
        )
        .annotate(any_title=Subquery(titles.values("title")[:1]))
        .order_by("-top_rank", "-total", "check_id")
    )


def rule_group_count(queryset: QuerySet[Finding]) -> int:
    """How many rules ``queryset`` has (cheaper than counting the aggregate rows)."""
    return queryset.order_by().values("check_id").distinct().count()


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
    groups = rule_groups(queryset)
    number = _page_number(number)
    rows = list(groups[(number - 1) * per_page : number * per_page])
    if not rows and number > 1:
        count = rule_group_count(queryset)
        number = max(1, -(-count // per_page))
        rows = list(groups[(number - 1) * per_page : number * per_page])
    count = rows[0]["rule_count"] if rows else 0
    return Page([rule_group_of(row) for row in rows], number, _CountedPaginator(count, per_page))


def rule_group_of(row: dict) -> RuleGroup:
    return RuleGroup(
        check_id=row["check_id"],
        title=row["any_title"] or "",
        severity=SEVERITY_OF_RANK.get(row["top_rank"], ""),
        status_counts=[
            (status, label, row[_status_alias(status)]) for status, label in FindingStatus.choices
        ],
        repositories=row["repositories"],
        total=row["total"],
    )
