"""Trends: open findings per day and flows per week, from the daily snapshots, with the days
since the last rebuild read from the mirror."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, Lower, TruncDate

from triage.models import (
    DailyFindingSnapshot,
    Finding,
    FindingEvent,
    FindingEventBaseline,
    FindingEventType,
    FindingStatus,
    KolegaConnection,
)
from triage.models.reports import SEVERITIES
from triage.reports.replay import (
    DayCount,
    baselines_of,
    day_counts,
    history_kept_from,
    ordered_events,
    replay,
)
from triage.selectors.reports.scope import OpenBySeverity, ReportScope


@dataclass(frozen=True)
class DayPoint(OpenBySeverity):
    day: date
    open_by_severity: dict[str, int]

    counts = OpenBySeverity.open_counts


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

    def with_open_on(self, day: date, open_by_severity: dict[str, int]) -> Trends:
        """These trends with `day`'s open counts replaced (today's, by the mirror's now)."""
        days = [
            DayPoint(point.day, dict(open_by_severity)) if point.day == day else point
            for point in self.days
        ]
        return dataclasses.replace(self, days=days)

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


def _events_of_findings(scope: ReportScope) -> Q:
    """The events of the scope's findings (events name their finding by connection and
    upstream id)."""
    findings = scope.findings()
    if scope.repository is not None:
        connections = [scope.repository.connection_id]
    else:
        connections = KolegaConnection.objects.filter(team=scope.team).values_list("pk", flat=True)
    condition = Q(pk__in=[])
    for connection_id in connections:
        condition |= Q(
            connection_id=connection_id,
            finding_upstream_id__in=findings.filter(connection_id=connection_id).values(
                "upstream_id"
            ),
        )
    return condition


def _finding_severity() -> Subquery:
    """The severity of an event's finding, for a query of events."""
    return Subquery(
        Finding.objects.filter(
            connection_id=OuterRef("connection_id"), upstream_id=OuterRef("finding_upstream_id")
        )
        # One finding at most (connection and upstream id are unique): nothing to sort.
        .order_by()
        .values("severity")[:1]
    )


# `trends(kept_from=...)` when the caller has not read it.
KEPT_FROM_UNREAD = date.min


def _scoped_day_counts(scope: ReportScope, kept_from: date | None) -> list[DayCount]:
    """One repository's or one owner's history, replayed from its findings' events (a few
    thousand rows) and the baselines of those whose older events were pruned. An owner's
    history is that of the findings the owner has now. It starts on the first day whose
    events are all kept: before it there is nothing left to replay."""
    findings = _events_of_findings(scope)
    events = FindingEvent.objects.filter(findings, team=scope.team, event_timestamp__lt=scope.end)
    if kept_from == KEPT_FROM_UNREAD:
        kept_from = history_kept_from(team=scope.team)
    # Baselines exist only once events were pruned.
    baselines = (
        baselines_of(FindingEventBaseline.objects.filter(findings, team=scope.team))
        if kept_from is not None
        else {}
    )
    # Events may carry no severity: the finding's own stands in, as in the team's rebuild. The
    # events are those of the scope's findings, so their severities are read in one pass over
    # those findings (a subquery per event, looking each one up again, cost more than the
    # events themselves).
    severities = scope.findings().order_by().values_list("connection_id", "upstream_id", "severity")
    flows = replay(
        ordered_events(events, stream=False),
        fallback_severity={
            (connection, finding): level for connection, finding, level in severities
        },
        baselines=baselines,
    )
    first_day = scope.first_day if kept_from is None else max(scope.first_day, kept_from)
    return list(day_counts(flows, first_day=first_day, last_day=scope.last_day))


def _team_day_counts(scope: ReportScope) -> list[DayCount]:
    rows = DailyFindingSnapshot.objects.filter(
        team=scope.team, day__gte=scope.first_day, day__lte=scope.last_day
    ).values_list("day", "severity", "open_count", "new_count", "reopened_count", "resolved_count")
    return [DayCount(*row) for row in rows]


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _mirror_day_counts(scope: ReportScope, *, first_day: date) -> list[DayCount]:
    """New, reopened and resolved per UTC day and severity from `first_day` on, read from the
    mirror: findings first detected, and findings resolved (as time to remediate counts
    them), on each day; reopenings from the events synced so far. Open counts are left at 0:
    the caller keeps those of the snapshots."""
    since = _day_start(first_day)
    findings = scope.findings()
    counts: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    # A finding first detected since then was last detected since then too: the redundant
    # condition lets the (team, last detected) index find the few recent rows.
    new = (
        findings.filter(
            first_detected_at__gte=since,
            first_detected_at__lt=scope.end,
            last_detected_at__gte=since,
        )
        .annotate(day=TruncDate("first_detected_at", tzinfo=UTC))
        .values_list("day", "severity")
        .annotate(n=Count("id"))
        .order_by()
    )
    resolved = (
        findings.filter(
            status=FindingStatus.RESOLVED, resolved_at__gte=since, resolved_at__lt=scope.end
        )
        .annotate(day=TruncDate("resolved_at", tzinfo=UTC))
        .values_list("day", "severity")
        .annotate(n=Count("id"))
        .order_by()
    )
    reopened = FindingEvent.objects.filter(
        team=scope.team,
        event_type=FindingEventType.REOPENED,
        event_timestamp__gte=since,
        event_timestamp__lt=scope.end,
    )
    if scope.repository is not None:
        reopened = reopened.filter(
            connection_id=scope.repository.connection_id,
            repository_upstream_id=scope.repository.upstream_id,
        )
    if scope.owner is not None:
        reopened = reopened.filter(_events_of_findings(scope))
    reopened = (
        reopened.annotate(
            day=TruncDate("event_timestamp", tzinfo=UTC),
            # Events may carry no severity; the finding's own stands in then, as in a rebuild.
            level=Coalesce(Lower("severity"), _finding_severity()),
        )
        .values_list("day", "level")
        .annotate(n=Count("id"))
        .order_by()
    )
    for index, rows in ((0, new), (1, reopened), (2, resolved)):
        for day, severity, n in rows:
            counts[(day, severity or "unknown")][index] += n
    return [DayCount(day, severity, 0, *flows) for (day, severity), flows in counts.items()]


def trends(
    *,
    scope: ReportScope,
    mirror_from: date | None = None,
    kept_from: date | None = KEPT_FROM_UNREAD,
) -> Trends:
    """Open findings per day and severity, new/reopened/resolved per week (weeks start Monday).

    The team's figures come from the daily snapshots; one repository's or one owner's are
    replayed from their findings' events with the same rules, so both agree by construction.
    From `mirror_from` on (the day of the last rebuild), the flows are read from the mirror
    instead, as time to remediate and the open counts are: a change made since the rebuild,
    or whose events the next sync has yet to bring, shows in every figure of the page at once.
    `kept_from` is `history_kept_from` when the caller has read it already.
    """
    narrowed = scope.repository is not None or scope.owner is not None
    rows = _scoped_day_counts(scope, kept_from) if narrowed else _team_day_counts(scope)
    if mirror_from is not None and mirror_from <= scope.last_day:
        mirror_from = max(mirror_from, scope.first_day)
        rows = [
            row if row.day < mirror_from else DayCount(row.day, row.severity, row.open, 0, 0, 0)
            for row in rows
        ]
        rows += _mirror_day_counts(scope, first_day=mirror_from)
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
