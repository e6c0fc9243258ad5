"""Read side of the reports page: every figure a manager takes to a meeting.

Every selector takes `now` so that a report can be computed for any moment, and tests move the
clock by passing it. Days are UTC days, so a chart of last quarter is the same for everyone.
Trend figures come from the daily snapshots rebuilt from finding events
(`triage.services.reports.report_snapshots_rebuild`); "now" figures come from the mirror.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection as db_connection
from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Max,
    Min,
    Q,
    QuerySet,
    Value,
)
from django.db.models.aggregates import Aggregate
from django.db.models.functions import Coalesce, Extract

from triage.kolega import QuotaBalance
from triage.models import (
    DailyFindingSnapshot,
    Finding,
    FindingEvent,
    Fix,
    KolegaConnection,
    PullRequest,
    Repository,
    ScanBatch,
    SlaPolicy,
    SyncRun,
    Team,
)
from triage.models.fixes import FixApproval
from triage.models.mirror import FIX_DIFF_STATUSES
from triage.models.reports import SEVERITIES
from triage.reports.replay import DayCount, day_counts, ordered_events, replay
from triage.services.kolega_errors import QUOTA_LABELS
from triage.sync.quota import DETAILS_KEY as QUOTA_DETAILS_KEY

# Unresolved findings: a finding waiting for manual review is still an exposure.
OPEN_STATUSES = ("open", "needs_manual_review")
RISK_WEIGHTS = {"critical": 10, "high": 5, "medium": 2, "low": 1}
SCAN_TYPES = ("secrets_scan", "semgrep_scan", "sbom_scan", "deep_ai_scan")
SCAN_TYPE_LABELS = {
    "secrets_scan": "Secrets",
    "semgrep_scan": "SAST",
    "sbom_scan": "SBOM",
    "deep_ai_scan": "Deep AI",
}
# Batches whose scans ran: a partial failure still scanned most repositories.
SCANNED_STATUSES = ("completed", "succeeded", "partial_failure")
DUE_SOON_DAYS = 7


@dataclass(frozen=True)
class ReportScope:
    """Whose findings, over which UTC days, seen from which moment."""

    team: Team
    first_day: date
    last_day: date
    now: datetime
    repository: Repository | None = None

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time.min, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """Exclusive end: the end of the last day, or now when the period runs until today."""
        day_end = datetime.combine(self.last_day + timedelta(days=1), time.min, UTC)
        return min(day_end, self.now)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def findings(self) -> QuerySet[Finding]:
        findings = Finding.objects.filter(team=self.team)
        if self.repository is not None:
            findings = findings.filter(repository=self.repository)
        return findings


def utc_today(now: datetime) -> date:
    return now.astimezone(UTC).date()


def sla_policy_of(team: Team) -> SlaPolicy:
    """The team's policy, or the default one (unsaved) while an admin has not set it."""
    return SlaPolicy.objects.filter(team=team).first() or SlaPolicy(team=team)


def team_repositories(team: Team) -> QuerySet[Repository]:
    return Repository.objects.filter(team=team).order_by("name", "id")


# Open findings now


def open_by_severity(*, scope: ReportScope) -> dict[str, int]:
    rows = (
        scope.findings()
        .filter(status__in=OPEN_STATUSES)
        .values("severity")
        .annotate(count=Count("id"))
        .order_by()
    )
    counts = dict.fromkeys(SEVERITIES, 0)
    for row in rows:
        counts[row["severity"]] = counts.get(row["severity"], 0) + row["count"]
    return counts


# Time to remediate


class _PercentileCont(Aggregate):
    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        super().__init__(expression, fraction=fraction, **extra)


@dataclass(frozen=True)
class RemediationTime:
    severity: str
    resolved: int
    median_days: float | None
    p90_days: float | None


def _percentile(sorted_values: list[float], fraction: float) -> float:
    """Linear interpolation between closest ranks, as PostgreSQL's percentile_cont."""
    position = (len(sorted_values) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def time_to_remediate(*, scope: ReportScope) -> list[RemediationTime]:
    """Days from first detection to resolution of the findings resolved in the period."""
    resolved = scope.findings().filter(
        status="resolved", resolved_at__gte=scope.start, resolved_at__lt=scope.end
    )
    results: dict[str, tuple[int, float | None, float | None]] = {}
    if db_connection.vendor == "postgresql":
        days = Extract(
            ExpressionWrapper(
                F("resolved_at") - F("first_detected_at"), output_field=DurationField()
            ),
            "epoch",
        ) / Value(86400.0)
        rows = (
            resolved.values("severity")
            .annotate(
                count=Count("id"),
                median=_PercentileCont(days, 0.5),
                p90=_PercentileCont(days, 0.9),
            )
            .order_by()
        )
        results = {r["severity"]: (r["count"], r["median"], r["p90"]) for r in rows}
    else:
        durations: dict[str, list[float]] = defaultdict(list)
        for severity, first, resolved_at in resolved.values_list(
            "severity", "first_detected_at", "resolved_at"
        ):
            durations[severity].append((resolved_at - first).total_seconds() / 86400)
        for severity, values in durations.items():
            values.sort()
            results[severity] = (len(values), statistics.median(values), _percentile(values, 0.9))
    ordered = [*SEVERITIES, *sorted(set(results) - set(SEVERITIES))]
    return [
        RemediationTime(severity, *results.get(severity, (0, None, None))) for severity in ordered
    ]


# SLA


@dataclass(frozen=True)
class SlaRow:
    severity: str
    days: int
    open: int
    breached: int
    due_soon: int


def _breached_q(*, severity: str, days: int, now: datetime) -> Q:
    return Q(severity=severity, first_detected_at__lt=now - timedelta(days=days))


def _due_soon_q(*, severity: str, days: int, now: datetime) -> Q:
    """Not yet breached, and the deadline falls within the next DUE_SOON_DAYS days."""
    deadline_floor = now - timedelta(days=days)
    return Q(
        severity=severity,
        first_detected_at__gte=deadline_floor,
        first_detected_at__lt=deadline_floor + timedelta(days=DUE_SOON_DAYS),
    )


@dataclass(frozen=True)
class OpenStats:
    """Open findings of one repository and severity: how many, how many past or near the SLA,
    and the oldest first detection."""

    open: int
    breached: int
    due_soon: int
    oldest: datetime | None


def _sla_filters(*, policy: SlaPolicy, now: datetime) -> tuple[Q, Q]:
    breached_q = Q(pk__in=[])
    due_q = Q(pk__in=[])
    for severity, days in policy.days.items():
        breached_q |= _breached_q(severity=severity, days=days, now=now)
        due_q |= _due_soon_q(severity=severity, days=days, now=now)
    return breached_q, due_q


def _open_stats(
    findings: QuerySet[Finding], *, policy: SlaPolicy, now: datetime
) -> dict[tuple[int, str], OpenStats]:
    breached_q, due_q = _sla_filters(policy=policy, now=now)
    rows = (
        findings.values_list("repository_id", "severity")
        .annotate(
            count=Count("id"),
            breached=Count("id", filter=breached_q),
            due=Count("id", filter=due_q),
            oldest=Min("first_detected_at"),
        )
        .order_by()
    )
    return {
        (repository_id, severity): OpenStats(count, breached, due, oldest)
        for repository_id, severity, count, breached, due, oldest in rows
    }


def open_finding_stats(
    *, scope: ReportScope, policy: SlaPolicy
) -> dict[tuple[int, str], OpenStats]:
    """(repository id, severity) -> OpenStats, in one pass over the open findings."""
    return _open_stats(
        scope.findings().filter(status__in=OPEN_STATUSES), policy=policy, now=scope.now
    )


def open_finding_stats_moved(
    *,
    scope: ReportScope,
    policy: SlaPolicy,
    stats: dict[tuple[int, str], OpenStats],
    computed_at: datetime,
) -> dict[tuple[int, str], OpenStats]:
    """`stats` of the same open findings computed at `computed_at`, moved on to `scope.now`.

    Between two moments a finding changes its SLA counts only if its deadline, or the start
    of its due-soon window, passed in between: only those findings are read (a few minutes'
    worth of detections per severity) and counted at both moments, and the difference applied.
    Counts of open findings and the oldest detection do not depend on the moment.
    """
    if computed_at == scope.now:
        return stats
    low, high = sorted((computed_at, scope.now))
    edges = Q(pk__in=[])
    for severity, days in policy.days.items():
        for shift in (timedelta(days=days), timedelta(days=days - DUE_SOON_DAYS)):
            edges |= Q(
                team=scope.team,
                severity=severity,
                first_detected_at__gte=low - shift,
                first_detected_at__lt=high - shift,
            )
    crossing = (
        scope.findings()
        .filter(status__in=OPEN_STATUSES)
        .filter(edges)
        .values_list("repository_id", "severity", "first_detected_at")
    )
    moved = dict(stats)
    for repository_id, severity, first_detected_at in crossing:
        row = moved.get((repository_id, severity))
        if row is None:
            continue
        days = policy.days[severity]
        breached_then, due_then = _sla_state(first_detected_at, days=days, now=computed_at)
        breached_now, due_now = _sla_state(first_detected_at, days=days, now=scope.now)
        moved[(repository_id, severity)] = OpenStats(
            row.open,
            row.breached - breached_then + breached_now,
            row.due_soon - due_then + due_now,
            row.oldest,
        )
    return moved


def _sla_state(first_detected_at: datetime, *, days: int, now: datetime) -> tuple[int, int]:
    """(breached, due soon) of one open finding, as `_breached_q` and `_due_soon_q` count it."""
    deadline_floor = now - timedelta(days=days)
    if first_detected_at < deadline_floor:
        return 1, 0
    return 0, int(first_detected_at < deadline_floor + timedelta(days=DUE_SOON_DAYS))


def sla_summary(
    *,
    scope: ReportScope,
    policy: SlaPolicy,
    stats: dict[tuple[int, str], OpenStats] | None = None,
) -> list[SlaRow]:
    if stats is None:
        stats = open_finding_stats(scope=scope, policy=policy)
    totals = {severity: [0, 0, 0] for severity in policy.days}
    for (_, severity), row in stats.items():
        if severity in totals:
            total = totals[severity]
            total[0] += row.open
            total[1] += row.breached
            total[2] += row.due_soon
    return [SlaRow(severity, days, *totals[severity]) for severity, days in policy.days.items()]


SLA_KINDS = {"breached": "past the SLA", "due": f"due within {DUE_SOON_DAYS} days"}


def sla_findings(
    *, scope: ReportScope, policy: SlaPolicy, kind: str, severity: str | None = None
) -> QuerySet[Finding]:
    """The open findings behind an SLA count, oldest first."""
    build = _breached_q if kind == "breached" else _due_soon_q
    condition = Q(pk__in=[])
    for sev, days in policy.days.items():
        if severity is None or severity == sev:
            condition |= build(severity=sev, days=days, now=scope.now)
    return (
        scope.findings()
        .filter(status__in=OPEN_STATUSES)
        .filter(condition)
        .select_related("repository")
        .order_by("first_detected_at", "id")
    )


def sla_deadline(finding: Finding, policy: SlaPolicy) -> datetime | None:
    days = policy.days.get(finding.severity)
    return finding.first_detected_at + timedelta(days=days) if days is not None else None


# Per-repository table and coverage


@dataclass
class RepositoryRow:
    repository: Repository
    open_by_severity: dict[str, int]
    risk: int
    oldest_open: datetime | None
    breaches: int
    last_scans: dict[str, datetime | None] = field(default_factory=dict)

    @property
    def open_total(self) -> int:
        return sum(self.open_by_severity.values())

    @property
    def open_counts(self) -> list[int]:
        return [self.open_by_severity.get(s, 0) for s in SEVERITIES]

    @property
    def last_scan_list(self) -> list[datetime | None]:
        return [self.last_scans.get(t) for t in SCAN_TYPES]


def last_scans_by_repository(*, team: Team) -> dict[int, dict[str, datetime]]:
    """repository id -> scan type -> when its last finished batch completed."""
    rows = (
        ScanBatch.objects.filter(team=team, status__in=SCANNED_STATUSES)
        .values_list("repository_id", "scan_type")
        .annotate(last=Max(Coalesce("completed_at", "created_at")))
        .order_by()
    )
    scans: dict[int, dict[str, datetime]] = defaultdict(dict)
    for repository_id, scan_type, last in rows:
        scans[repository_id][scan_type] = last
    return scans


def report_repositories(
    scope: ReportScope, *, of_team: list[Repository] | None = None
) -> list[Repository]:
    """The repositories a report covers, with only the columns it shows; `of_team` are all
    of the team's, when the caller has them already."""
    if of_team is not None:
        return [r for r in of_team if scope.repository is None or r.pk == scope.repository.pk]
    repositories = team_repositories(scope.team).only("id", "name", "archived")
    if scope.repository is not None:
        repositories = repositories.filter(pk=scope.repository.pk)
    return list(repositories)


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
                last_scans={t: scans.get(repository.pk, {}).get(t) for t in SCAN_TYPES},
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
    for scan_type in SCAN_TYPES:
        missing = []
        for repository in repositories:
            last = scans.get(repository.pk, {}).get(scan_type)
            if last is None or last < cutoff:
                missing.append((repository, last))
        gaps.append(CoverageGap(scan_type, SCAN_TYPE_LABELS[scan_type], missing, len(repositories)))
    return gaps


# Trends (from the daily snapshots)


@dataclass(frozen=True)
class DayPoint:
    day: date
    open_by_severity: dict[str, int]

    @property
    def open_total(self) -> int:
        return sum(self.open_by_severity.values())

    @property
    def counts(self) -> list[int]:
        return [self.open_by_severity.get(s, 0) for s in SEVERITIES]


@dataclass(frozen=True)
class WeekPoint:
    week_start: date
    new: int
    reopened: int
    resolved: int


@dataclass(frozen=True)
class Trends:
    days: list[DayPoint]
    weeks: list[WeekPoint]
    new_by_severity: dict[str, int]
    reopened_by_severity: dict[str, int]
    resolved_by_severity: dict[str, int]

    @property
    def new(self) -> int:
        return sum(self.new_by_severity.values())

    @property
    def reopened(self) -> int:
        return sum(self.reopened_by_severity.values())

    @property
    def resolved(self) -> int:
        return sum(self.resolved_by_severity.values())

    def severity_rows(self, open_now: dict[str, int]) -> list[tuple[str, int, int, int, int]]:
        return [
            (
                s,
                open_now.get(s, 0),
                self.new_by_severity[s],
                self.reopened_by_severity[s],
                self.resolved_by_severity[s],
            )
            for s in SEVERITIES
        ]


def _repository_day_counts(scope: ReportScope) -> list[DayCount]:
    """One repository's history, replayed from its findings' events (a few thousand rows)."""
    repository = scope.repository
    events = FindingEvent.objects.filter(
        team=scope.team,
        connection_id=repository.connection_id,
        finding_upstream_id__in=Finding.objects.filter(repository=repository).values("upstream_id"),
        event_timestamp__lt=scope.end,
    )
    flows = replay(ordered_events(events, stream=False))
    return list(day_counts(flows, first_day=scope.first_day, last_day=scope.last_day))


def _team_day_counts(scope: ReportScope) -> list[DayCount]:
    rows = DailyFindingSnapshot.objects.filter(
        team=scope.team, day__gte=scope.first_day, day__lte=scope.last_day
    ).values_list("day", "severity", "open_count", "new_count", "reopened_count", "resolved_count")
    return [DayCount(*row) for row in rows]


def trends(*, scope: ReportScope) -> Trends:
    """Open findings per day and severity, new/reopened/resolved per week (weeks start Monday).

    The team's figures come from the daily snapshots; one repository's are replayed from its
    events with the same rules, so both agree by construction.
    """
    rows = _repository_day_counts(scope) if scope.repository else _team_day_counts(scope)
    open_by_day: dict[date, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SEVERITIES, 0))
    flows_by_day: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0])
    totals = {key: dict.fromkeys(SEVERITIES, 0) for key in ("new", "reopened", "resolved")}
    for row in rows:
        if row.severity in SEVERITIES:
            open_by_day[row.day][row.severity] += row.open
        flows = flows_by_day[row.day]
        for index, key in enumerate(("new", "reopened", "resolved")):
            value = getattr(row, key)
            flows[index] += value
            totals[key][row.severity] = totals[key].get(row.severity, 0) + value
    days = []
    weeks: dict[date, list[int]] = {}
    for offset in range(scope.days):
        day = scope.first_day + timedelta(days=offset)
        days.append(DayPoint(day, dict(open_by_day[day])))
        week = weeks.setdefault(day - timedelta(days=day.weekday()), [0, 0, 0])
        for index, value in enumerate(flows_by_day.get(day, (0, 0, 0))):
            week[index] += value
    return Trends(
        days=days,
        weeks=[WeekPoint(start, *values) for start, values in weeks.items()],
        new_by_severity=totals["new"],
        reopened_by_severity=totals["reopened"],
        resolved_by_severity=totals["resolved"],
    )


# Forecast


@dataclass(frozen=True)
class Forecast:
    label: str
    remaining: int
    net_per_day: float
    reaches_zero_on: date | None

    @property
    def growing(self) -> bool:
        return self.remaining > 0 and self.net_per_day <= 0


def _forecast(
    *, label: str, remaining: int, resolved: int, arriving: int, days: int, today: date
) -> Forecast:
    net = (resolved - arriving) / max(days, 1)
    reaches = None
    if remaining == 0:
        reaches = today
    elif net > 0:
        reaches = today + timedelta(days=math.ceil(remaining / net))
    return Forecast(label, remaining, net, reaches)


def forecasts(
    *, scope: ReportScope, open_now: dict[str, int], sla: list[SlaRow], trend: Trends
) -> list[Forecast]:
    """At the period's pace (resolved minus new and reopened per day), when each count is zero.

    SLA breaches burn down at their severity's net pace: it assumes the oldest are fixed first.
    """
    today = utc_today(scope.now)
    arriving = {s: trend.new_by_severity[s] + trend.reopened_by_severity[s] for s in SEVERITIES}
    results = [
        _forecast(
            label="Open backlog",
            remaining=sum(open_now.get(s, 0) for s in SEVERITIES),
            resolved=sum(trend.resolved_by_severity[s] for s in SEVERITIES),
            arriving=sum(arriving.values()),
            days=scope.days,
            today=today,
        )
    ]
    for row in sla:
        results.append(
            _forecast(
                label=f"{row.severity.title()} SLA breaches",
                remaining=row.breached,
                resolved=trend.resolved_by_severity[row.severity],
                arriving=arriving[row.severity],
                days=scope.days,
                today=today,
            )
        )
    return results


# Fix funnel


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


def fix_funnel(*, scope: ReportScope) -> FixFunnel:
    """Fixes created in the period and how far each got; lead time = request to approval."""
    fixes = Fix.objects.filter(
        team=scope.team, created_at__gte=scope.start, created_at__lt=scope.end
    )
    if scope.repository is not None:
        fixes = fixes.filter(repository=scope.repository)
    counts = fixes.aggregate(
        started=Count("id"),
        completed=Count("id", filter=Q(status__in=FIX_DIFF_STATUSES)),
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


# Quota use (from the readings syncs keep; the page never calls Kolega)

QUOTA_COUNTERS = ("prs", "sast_scans", "deep_ai_scans")
# Syncs keep a reading every few minutes; one older than this is not shown as the balance,
# and the lookup (newest runs first) never walks further back than this.
QUOTA_READING_LOOKBACK = timedelta(days=2)


@dataclass(frozen=True)
class QuotaCounterUse:
    counter: str
    label: str
    used: int
    limit: int
    remaining: int

    @property
    def low(self) -> float:
        return self.limit * 0.75

    @property
    def high(self) -> float:
        return self.limit * 0.9


@dataclass(frozen=True)
class QuotaUse:
    """One organization's quota period as last read by a sync, and the fixes and pull requests
    the mirror holds from that period (both draw on the `prs` counter)."""

    connection: KolegaConnection
    now: datetime
    read_at: datetime | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    counters: list[QuotaCounterUse] = field(default_factory=list)
    fixes_started: int = 0
    pull_requests_opened: int = 0

    @property
    def current(self) -> bool:
        return self.period_end is not None and self.period_end > self.now

    @property
    def elapsed_percent(self) -> int | None:
        if self.period_start is None or self.period_end is None:
            return None
        length = (self.period_end - self.period_start).total_seconds()
        if length <= 0:
            return 100
        elapsed = (min(self.now, self.period_end) - self.period_start).total_seconds()
        return max(0, min(100, round(100 * elapsed / length)))


def _quota_reading(
    connection: KolegaConnection, now: datetime
) -> tuple[datetime, QuotaBalance] | None:
    details = (
        SyncRun.objects.filter(
            connection=connection,
            created_at__gte=now - QUOTA_READING_LOOKBACK,
            details__has_key=QUOTA_DETAILS_KEY,
        )
        .order_by("-created_at", "-id")
        .values_list("details", flat=True)
        .first()
    )
    if details is None:
        return None
    reading = details[QUOTA_DETAILS_KEY]
    try:
        balance = QuotaBalance.model_validate(reading["balance"])
        read_at = datetime.fromisoformat(reading["read_at"])
    except (KeyError, TypeError, ValueError):
        return None
    return read_at, balance


def quota_use(*, team: Team, now: datetime) -> list[QuotaUse]:
    """Each connection's last quota reading with the fixes and pull requests of its period.

    The quota is the organization's: these figures do not follow the report's period or
    repository filter but the quota's own period.
    """
    uses = []
    for connection in KolegaConnection.objects.filter(team=team).order_by("name", "id"):
        reading = _quota_reading(connection, now)
        if reading is None:
            uses.append(QuotaUse(connection=connection, now=now))
            continue
        read_at, balance = reading
        uses.append(
            QuotaUse(
                connection=connection,
                now=now,
                read_at=read_at,
                period_start=balance.period_start,
                period_end=balance.period_end,
                counters=[
                    QuotaCounterUse(
                        counter=name,
                        label=QUOTA_LABELS.get(name, name),
                        used=getattr(balance, name).used,
                        limit=getattr(balance, name).plan + getattr(balance, name).topup,
                        remaining=getattr(balance, name).remaining,
                    )
                    for name in QUOTA_COUNTERS
                ],
            )
        )
    periods = {use.connection.pk: use for use in uses if use.period_start is not None}
    if periods:
        fixes = Fix.objects.filter(team=team).aggregate(
            **{f"c{pk}": Count("id", filter=_in_quota_period(use)) for pk, use in periods.items()}
        )
        pull_requests = PullRequest.objects.filter(team=team).aggregate(
            **{f"c{pk}": Count("id", filter=_in_quota_period(use)) for pk, use in periods.items()}
        )
        uses = [
            replace(
                use,
                fixes_started=fixes[f"c{use.connection.pk}"],
                pull_requests_opened=pull_requests[f"c{use.connection.pk}"],
            )
            if use.connection.pk in periods
            else use
            for use in uses
        ]
    return uses


def _in_quota_period(use: QuotaUse) -> Q:
    return Q(
        connection_id=use.connection.pk,
        created_at__gte=use.period_start,
        created_at__lt=min(use.period_end, use.now),
    )
