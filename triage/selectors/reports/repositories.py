"""Per-repository risk table and scan coverage."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Max
from django.db.models.functions import Coalesce

from triage.models import Repository, ScanBatch, ScanType, Severity, SlaPolicy, Team
from triage.models.reports import SEVERITIES
from triage.selectors.reports.scope import OpenBySeverity, ReportScope, report_repositories
from triage.selectors.reports.sla import OpenStats, open_finding_stats

RISK_WEIGHTS = {Severity.CRITICAL: 10, Severity.HIGH: 5, Severity.MEDIUM: 2, Severity.LOW: 1}


@dataclass
class RepositoryRow(OpenBySeverity):
    repository: Repository
    open_by_severity: dict[str, int]
    risk: int
    oldest_open: datetime | None
    breaches: int
    last_scans: dict[str, datetime | None] = field(default_factory=dict)

    @property
    def last_scan_list(self) -> list[datetime | None]:
        return [self.last_scans.get(t) for t in ScanType.values]


def last_scans_by_repository(*, team: Team) -> dict[int, dict[str, datetime]]:
    """repository id -> scan type -> when its last finished batch completed."""
    rows = (
        ScanBatch.objects.filter(team=team)
        .scanned()
        .values_list("repository_id", "scan_type")
        .annotate(last=Max(Coalesce("completed_at", "created_at")))
        .order_by()
    )
    scans: dict[int, dict[str, datetime]] = defaultdict(dict)
    for repository_id, scan_type, last in rows:
        scans[repository_id][scan_type] = last
    return scans


def repository_table(
    *,
    scope: ReportScope,
    policy: SlaPolicy,
    repositories: list[Repository] | None = None,
    last_scans: dict[int, dict[str, datetime]] | None = None,
    stats: dict[tuple[int, str], OpenStats] | None = None,
) -> list[RepositoryRow]:
    """Each repository's open risk, worst first. Risk = sum of RISK_WEIGHTS per open finding."""
    if stats is None:
        stats = open_finding_stats(scope=scope, policy=policy)
    rows: dict[int, dict] = defaultdict(lambda: {"breaches": 0, "oldest": None})
    for (repository_id, severity), stat in stats.items():
        row = rows[repository_id]
        row[f"open_{severity}"] = stat.open
        row["breaches"] += stat.breached
        if stat.oldest is not None and (row["oldest"] is None or stat.oldest < row["oldest"]):
            row["oldest"] = stat.oldest
    scans = last_scans if last_scans is not None else last_scans_by_repository(team=scope.team)
    if repositories is None:
        repositories = report_repositories(scope)
    table = []
    for repository in repositories:
        row = rows.get(repository.pk, {})
        counts = {severity: row.get(f"open_{severity}", 0) for severity in SEVERITIES}
        table.append(
            RepositoryRow(
                repository=repository,
                open_by_severity=counts,
                risk=sum(RISK_WEIGHTS[s] * n for s, n in counts.items()),
                oldest_open=row.get("oldest"),
                breaches=row.get("breaches", 0),
                last_scans={t: scans.get(repository.pk, {}).get(t) for t in ScanType.values},
            )
        )
    table.sort(key=lambda r: (-r.risk, -r.breaches, r.repository.name))
    return table


@dataclass(frozen=True)
class CoverageGap:
    scan_type: str
    label: str
    repositories: list[tuple[Repository, datetime | None]]
    total: int

    @property
    def covered(self) -> int:
        return self.total - len(self.repositories)


def scan_coverage(
    *,
    scope: ReportScope,
    within_days: int,
    repositories: list[Repository] | None = None,
    last_scans: dict[int, dict[str, datetime]] | None = None,
) -> list[CoverageGap]:
    """Per scan type, the active repositories with no finished scan of that type within the
    days."""
    cutoff = scope.now - timedelta(days=within_days)
    scans = last_scans if last_scans is not None else last_scans_by_repository(team=scope.team)
    if repositories is None:
        repositories = report_repositories(scope)
    repositories = [r for r in repositories if not r.archived]
    gaps = []
    for scan_type in ScanType:
        missing = []
        for repository in repositories:
            last = scans.get(repository.pk, {}).get(scan_type)
            if last is None or last < cutoff:
                missing.append((repository, last))
        gaps.append(CoverageGap(scan_type.value, scan_type.label, missing, len(repositories)))
    return gaps
