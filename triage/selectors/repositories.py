"""Read side of repositories: the team's list with its counts, and one repository's page
(open findings by severity, SLA, scan coverage, last scans, fixes and pull requests).

"Open" here is a finding that still needs work: open, or waiting for manual review
(`FINDING_UNRESOLVED_STATUSES`), as on every other page.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Max, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from triage.models import (
    Finding,
    Fix,
    PullRequest,
    Repository,
    ScanBatch,
    ScanType,
    Team,
)
from triage.models.reports import SEVERITIES
from triage.selectors.reports.scope import ReportScope, sla_policy_of, utc_today
from triage.selectors.reports.sla import OpenStats, open_finding_stats, sla_findings

# Rows of each kind the repository page shows; the full lists are a link away.
RECENT_LIMIT = 10


def repositories_for_team(*, team: Team) -> QuerySet[Repository]:
    return Repository.objects.filter(team=team).order_by("name", "id")


def repository_for_team(*, team: Team, repository_id: int) -> Repository | None:
    return Repository.objects.filter(team=team, pk=repository_id).first()


def _scope(team: Team, repository: Repository | None = None) -> ReportScope:
    now = timezone.now()
    today = utc_today(now)
    return ReportScope(team=team, first_day=today, last_day=today, now=now, repository=repository)


@dataclass
class RepositoryListRow:
    repository: Repository
    open_by_severity: dict[str, int]
    past_sla: int
    last_scan_at: datetime | None
    fixes: int
    pull_requests: int

    @property
    def open_total(self) -> int:
        return sum(self.open_by_severity.values())

    @property
    def open_counts(self) -> list[tuple[str, int]]:
        return [(severity, self.open_by_severity.get(severity, 0)) for severity in SEVERITIES]


# The list's orders: key -> (label, sort key of a row).
REPOSITORY_SORTS = {
    "name": ("Name", lambda row: (row.repository.name.lower(), row.repository.pk)),
    "open": ("Most open findings", lambda row: (-row.open_total, row.repository.name.lower())),
    "past_sla": ("Most past the SLA", lambda row: (-row.past_sla, row.repository.name.lower())),
    "last_scan": (
        "Longest since a scan",
        lambda row: (row.last_scan_at is not None, row.last_scan_at or 0, row.repository.name),
    ),
}


def _last_scan_by_repository(team: Team) -> dict[int, datetime]:
    rows = (
        ScanBatch.objects.filter(team=team)
        .scanned()
        .values_list("repository_id")
        .annotate(last=Max(Coalesce("completed_at", "created_at")))
        .order_by()
    )
    return dict(rows)


def _count_by(queryset: QuerySet, key: str) -> dict[int, int]:
    return dict(queryset.values_list(key).annotate(n=Count("id")).order_by())


def repository_rows(
    *, team: Team, repositories: QuerySet[Repository], sort: str = "name"
) -> list[RepositoryListRow]:
    """The repositories with their counts, in one query per kind of count whatever their
    number; sorted by one of REPOSITORY_SORTS."""
    repositories = list(repositories.only("id", "team_id", "name", "archived"))
    stats = open_finding_stats(scope=_scope(team), policy=sla_policy_of(team))
    last_scans = _last_scan_by_repository(team)
    fixes = _count_by(Fix.objects.filter(team=team), "repository_id")
    pull_requests = _count_by(PullRequest.objects.filter(team=team), "fix__repository_id")
    open_by: dict[int, dict[str, int]] = defaultdict(dict)
    past_sla: Counter[int] = Counter()
    for (repository_id, severity), stat in stats.items():
        open_by[repository_id][severity] = stat.open
        past_sla[repository_id] += stat.breached
    rows = [
        RepositoryListRow(
            repository=repository,
            open_by_severity=open_by.get(repository.pk, {}),
            past_sla=past_sla[repository.pk],
            last_scan_at=last_scans.get(repository.pk),
            fixes=fixes.get(repository.pk, 0),
            pull_requests=pull_requests.get(repository.pk, 0),
        )
        for repository in repositories
    ]
    _, key = REPOSITORY_SORTS.get(sort, REPOSITORY_SORTS["name"])
    rows.sort(key=key)
    return rows


@dataclass(frozen=True)
class SeverityRow:
    severity: str
    sla_days: int | None
    open: int
    past_sla: int
    due_soon: int


@dataclass(frozen=True)
class CoverageRow:
    scan_type: str
    label: str
    last_finished_at: datetime | None
    last_started_at: datetime | None


@dataclass
class RepositoryOverview:
    repository: Repository
    severities: list[SeverityRow]
    coverage: list[CoverageRow]
    recent_scans: list[ScanBatch]
    scans_total: int
    recent_fixes: list[Fix]
    fixes_total: int
    recent_pull_requests: list[PullRequest]
    pull_requests_total: int
    past_sla_findings: list[Finding]
    sla_is_default: bool

    @property
    def open_total(self) -> int:
        return sum(row.open for row in self.severities)

    @property
    def past_sla_total(self) -> int:
        return sum(row.past_sla for row in self.severities)


def repository_overview(*, team: Team, repository: Repository) -> RepositoryOverview:
    """Everything the repository page shows, in a fixed number of queries."""
    policy = sla_policy_of(team)
    scope = _scope(team, repository)
    stats: dict[tuple[int, str], OpenStats] = open_finding_stats(scope=scope, policy=policy)
    none = OpenStats(0, 0, 0, None)
    severities = []
    for severity in SEVERITIES:
        stat = stats.get((repository.pk, severity), none)
        severities.append(
            SeverityRow(
                severity, policy.days.get(severity), stat.open, stat.breached, stat.due_soon
            )
        )
    batches = ScanBatch.objects.filter(team=team, repository=repository)
    finished = dict(
        batches.scanned()
        .values_list("scan_type")
        .annotate(last=Max(Coalesce("completed_at", "created_at")))
        .order_by()
    )
    started = dict(batches.values_list("scan_type").annotate(last=Max("created_at")).order_by())
    coverage = [
        CoverageRow(
            scan_type.value, scan_type.label, finished.get(scan_type), started.get(scan_type)
        )
        for scan_type in ScanType
    ]
    fixes = Fix.objects.filter(team=team, repository=repository)
    pull_requests = PullRequest.objects.filter(team=team, fix__repository=repository)
    return RepositoryOverview(
        repository=repository,
        severities=severities,
        coverage=coverage,
        recent_scans=list(batches.order_by("-created_at", "-id")[:RECENT_LIMIT]),
        scans_total=batches.count(),
        recent_fixes=list(
            fixes.annotate(pull_request_count=Count("pull_requests"))
            .defer("diff")
            .order_by("-created_at", "-id")[:RECENT_LIMIT]
        ),
        fixes_total=fixes.count(),
        recent_pull_requests=list(
            pull_requests.select_related("fix")
            .defer("fix__diff")
            .order_by("-created_at", "-id")[:RECENT_LIMIT]
        ),
        pull_requests_total=pull_requests.count(),
        past_sla_findings=list(
            sla_findings(scope=scope, policy=policy, kind="breached")[:RECENT_LIMIT]
        ),
        sla_is_default=policy.pk is None,
    )
