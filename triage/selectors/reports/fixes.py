"""Fix funnel: how far the fixes created in the period got."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from django.db.models import Count, Q

from triage.models import Fix, FixApproval, PullRequest
from triage.selectors.reports.scope import ReportScope


@dataclass(frozen=True)
class FixFunnel:
    started: int
    completed: int
    approved: int
    pull_requests_opened: int
    merged: int
    approval_lead_time_hours: float | None
    # Pull requests closed without merging: a dead end, not a step.
    closed: int = 0

    @property
    def steps(self) -> list[tuple[str, int]]:
        return [
            ("Fixes started", self.started),
            ("Completed", self.completed),
            ("Approved", self.approved),
            ("Pull requests opened", self.pull_requests_opened),
            ("Merged", self.merged),
        ]


def _fixes_of_scope_findings(scope: ReportScope, fixes) -> list[int]:
    """The ids of `fixes` made for at least one of the scope's findings (a fix names its
    findings by upstream id)."""
    made_for = list(fixes.values_list("pk", "connection_id", "finding_ids"))
    upstream_ids = {str(i) for _, _, finding_ids in made_for for i in finding_ids or ()}
    if not upstream_ids:
        return []
    ours = set(
        scope.findings()
        .filter(upstream_id__in=upstream_ids)
        .values_list("connection_id", "upstream_id")
    )
    return [
        pk
        for pk, connection_id, finding_ids in made_for
        if any((connection_id, str(i)) in ours for i in finding_ids or ())
    ]


def fix_funnel(*, scope: ReportScope) -> FixFunnel:
    """Fixes created in the period and how far each got; lead time = request to approval.
    With an owner, the fixes made for at least one of the owner's findings."""
    fixes = Fix.objects.filter(
        team=scope.team, created_at__gte=scope.start, created_at__lt=scope.end
    )
    if scope.repository is not None:
        fixes = fixes.filter(repository=scope.repository)
    if scope.owner is not None:
        fixes = fixes.filter(pk__in=_fixes_of_scope_findings(scope, fixes))
    counts = fixes.aggregate(
        started=Count("id"),
        completed=Count("id", filter=Q(status__in=Fix.DIFF_STATUSES)),
    )
    approved_fixes: set[int] = set()
    lead_hours = []
    for fix_id, requested, decided in FixApproval.objects.filter(
        team=scope.team, fix__in=fixes, status=FixApproval.Status.APPROVED
    ).values_list("fix_id", "created_at", "decided_at"):
        approved_fixes.add(fix_id)
        if decided is not None:
            lead_hours.append((decided - requested).total_seconds() / 3600)
    lead_hours.sort()
    approved = len(approved_fixes)
    prs = PullRequest.objects.filter(team=scope.team, fix__in=fixes).aggregate(
        opened=Count("id"),
        merged=Count("id", filter=Q(merge_status=PullRequest.MergeStatus.MERGED)),
        closed=Count("id", filter=Q(merge_status=PullRequest.MergeStatus.CLOSED)),
    )
    return FixFunnel(
        started=counts["started"],
        completed=counts["completed"],
        approved=approved,
        pull_requests_opened=prs["opened"],
        merged=prs["merged"],
        closed=prs["closed"],
        approval_lead_time_hours=statistics.median(lead_hours) if lead_hours else None,
    )
