"""Forecast: at the period's pace, when the backlog and each severity's SLA breaches reach
zero."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

from triage.models import Severity, label_of
from triage.models.reports import SEVERITIES
from triage.selectors.reports.scope import ReportScope, utc_today
from triage.selectors.reports.sla import SlaRow
from triage.selectors.reports.trends import Trends


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
                label=f"{label_of(Severity, row.severity)} SLA breaches",
                remaining=row.breached,
                resolved=trend.resolved_by_severity[row.severity],
                arriving=arriving[row.severity],
                days=scope.days,
                today=today,
            )
        )
    return results
