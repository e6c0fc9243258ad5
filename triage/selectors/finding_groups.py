"""Findings grouped by rule (``check_id``) across repositories: one row per rule with its
highest severity, how many findings it has in each status, and in how many repositories.

One aggregate query reads a page of rules (conditional counts, ``COUNT(...) FILTER (WHERE ...)``
on PostgreSQL), and one more counts the rules for the pager: two queries whatever the number of
rules or findings.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Max, Q, QuerySet

from triage.models import Finding, FindingStatus, Severity
from triage.selectors.findings import SEVERITY_RANK

GROUPS_PAGE_SIZE = 50
# The findings of one rule shown inline when its row is opened.
GROUP_FINDINGS_PAGE_SIZE = 20

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
        _status_alias(status): Count("pk", filter=Q(status=status))
        for status in FindingStatus.values
    }
    return (
        queryset.order_by()
        .values("check_id")
        .annotate(
            top_rank=Max(SEVERITY_RANK),
            any_title=Max("title"),
            repositories=Count("repository_id", distinct=True),
            total=Count("pk"),
            **per_status,
        )
        .order_by("-top_rank", "-total", "check_id")
    )


def rule_group_count(queryset: QuerySet[Finding]) -> int:
    """How many rules ``queryset`` has (cheaper than counting the aggregate rows)."""
    return queryset.order_by().values("check_id").distinct().count()


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
