"""Time to remediate: days from first detection to resolution, by severity."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db import connection as db_connection
from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    QuerySet,
    Value,
)
from django.db.models.aggregates import Aggregate

from triage.models import Finding, FindingStatus
from triage.models.reports import SEVERITIES
from triage.selectors.reports.scope import ReportScope


class _PercentileCont(Aggregate):
    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        super().__init__(expression, fraction=fraction, **extra)


class _EpochSeconds(Func):
    """The seconds of an interval as a double (PostgreSQL's date_part). EXTRACT answers a
    numeric, whose arithmetic and sorting make the percentiles of a quarter's resolved
    findings a third slower."""

    template = "date_part('epoch', %(expressions)s)"
    output_field = FloatField()


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


def resolved_in_period(scope: ReportScope) -> QuerySet[Finding]:
    """The findings of the scope resolved in its period: those time to remediate counts."""
    return scope.findings().filter(
        status=FindingStatus.RESOLVED, resolved_at__gte=scope.start, resolved_at__lt=scope.end
    )


# (findings, median days, 90th percentile days)
Figures = tuple[int, float | None, float | None]


def with_figures(grouped: QuerySet) -> QuerySet:
    """A `.values(...)` queryset of resolved findings with `count`, `median` and `p90` days
    from first detection to resolution per group (PostgreSQL's percentile_cont)."""
    days = _EpochSeconds(
        ExpressionWrapper(F("resolved_at") - F("first_detected_at"), output_field=DurationField())
    ) / Value(86400.0)
    return grouped.annotate(
        count=Count("id"), median=_PercentileCont(days, 0.5), p90=_PercentileCont(days, 0.9)
    ).order_by()


def duration_days(first_detected_at: datetime, resolved_at: datetime) -> float:
    return (resolved_at - first_detected_at).total_seconds() / 86400


def figures_of(durations: dict[object, list[float]]) -> dict[object, Figures]:
    """The figures of each group's durations in days, as `with_figures` computes them."""
    results = {}
    for key, values in durations.items():
        values.sort()
        results[key] = (len(values), statistics.median(values), _percentile(values, 0.9))
    return results


def remediation_by(resolved: QuerySet[Finding], field: str) -> dict[object, Figures]:
    """`field` value -> figures of `resolved`: percentile_cont on PostgreSQL, the same
    interpolation in Python elsewhere."""
    if db_connection.vendor == "postgresql":
        rows = with_figures(resolved.values(field))
        return {r[field]: (r["count"], r["median"], r["p90"]) for r in rows}
    durations: dict[object, list[float]] = defaultdict(list)
    for key, first, resolved_at in resolved.values_list(field, "first_detected_at", "resolved_at"):
        durations[key].append(duration_days(first, resolved_at))
    return figures_of(durations)


def time_to_remediate(*, scope: ReportScope) -> list[RemediationTime]:
    """Days from first detection to resolution of the findings resolved in the period."""
    results = remediation_by(resolved_in_period(scope), "severity")
    ordered = [*SEVERITIES, *sorted(set(results) - set(SEVERITIES))]
    return [
        RemediationTime(severity, *results.get(severity, (0, None, None))) for severity in ordered
    ]
