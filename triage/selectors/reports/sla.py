"""SLA: open findings past or near their severity's deadline, counted and listed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q, QuerySet

from triage.models import Finding, SlaPolicy
from triage.selectors.reports.scope import ReportScope

DUE_SOON_DAYS = 7
# What open-finding stats are grouped by: the severity always comes last.
BY_REPOSITORY = ("repository_id", "severity")
BY_OWNER = ("owner_squad_id", "owner_member_id", "severity")
# Both of the above in one pass over the open findings, rolled up after (`open_stats_rolled`).
BY_REPOSITORY_AND_OWNER = ("repository_id", "owner_squad_id", "owner_member_id", "severity")


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
    findings: QuerySet[Finding], *, policy: SlaPolicy, now: datetime, by: tuple[str, ...]
) -> dict[tuple, OpenStats]:
    breached_q, due_q = _sla_filters(policy=policy, now=now)
    rows = (
        findings.values_list(*by)
        .annotate(
            count=Count("id"),
            breached=Count("id", filter=breached_q),
            due=Count("id", filter=due_q),
            oldest=Min("first_detected_at"),
        )
        .order_by()
    )
    width = len(by)
    return {tuple(row[:width]): OpenStats(*row[width:]) for row in rows}


def open_finding_stats(
    *, scope: ReportScope, policy: SlaPolicy, by: tuple[str, ...] = BY_REPOSITORY
) -> dict[tuple, OpenStats]:
    """(repository id, severity) -> OpenStats, in one pass over the open findings; `by`
    names other columns to group by (BY_OWNER: squad id, member id, severity)."""
    return _open_stats(scope.findings().unresolved(), policy=policy, now=scope.now, by=by)


def open_stats_rolled(
    stats: dict[tuple, OpenStats], *, of: tuple[str, ...], by: tuple[str, ...]
) -> dict[tuple, OpenStats]:
    """`stats` grouped `of` some columns, summed up to the groups of fewer columns `by` (the
    counts added, the oldest detection the earliest)."""
    positions = [of.index(name) for name in by]
    rolled: dict[tuple, OpenStats] = {}
    for key, row in stats.items():
        group = tuple(key[i] for i in positions)
        kept = rolled.get(group)
        if kept is None:
            rolled[group] = row
            continue
        oldest = min((when for when in (kept.oldest, row.oldest) if when is not None), default=None)
        rolled[group] = OpenStats(
            kept.open + row.open,
            kept.breached + row.breached,
            kept.due_soon + row.due_soon,
            oldest,
        )
    return rolled


def open_finding_stats_moved(
    *,
    scope: ReportScope,
    policy: SlaPolicy,
    stats: dict[tuple, OpenStats],
    computed_at: datetime,
    by: tuple[str, ...] = BY_REPOSITORY,
) -> dict[tuple, OpenStats]:
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
    crossing = scope.findings().unresolved().filter(edges).values_list(*by, "first_detected_at")
    moved = dict(stats)
    for *key, first_detected_at in crossing:
        key = tuple(key)
        row = moved.get(key)
        if row is None:
            continue
        days = policy.days[key[-1]]
        breached_then, due_then = _sla_state(first_detected_at, days=days, now=computed_at)
        breached_now, due_now = _sla_state(first_detected_at, days=days, now=scope.now)
        moved[key] = OpenStats(
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
        .unresolved()
        .filter(condition)
        .select_related("repository")
        .order_by("first_detected_at", "id")
    )


def sla_deadline(finding: Finding, policy: SlaPolicy) -> datetime | None:
    days = policy.days.get(finding.severity)
    return finding.first_detected_at + timedelta(days=days) if days is not None else None
