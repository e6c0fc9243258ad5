"""Trends: open findings per day and flows per week, from the daily snapshots."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from triage.models import DailyFindingSnapshot, Finding, FindingEvent
from triage.models.reports import SEVERITIES
from triage.reports.replay import DayCount, day_counts, ordered_events, replay
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
