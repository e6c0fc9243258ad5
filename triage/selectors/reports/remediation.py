"""Time to remediate: days from first detection to resolution, by severity."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass

from django.db import connection as db_connection
from django.db.models import Count, DurationField, ExpressionWrapper, F, FloatField, Value
from django.db.models.aggregates import Aggregate
from django.db.models.functions import Extract

from triage.models import FindingStatus
from triage.models.reports import SEVERITIES
from triage.selectors.reports.scope import ReportScope


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
        status=FindingStatus.RESOLVED, resolved_at__gte=scope.start, resolved_at__lt=scope.end
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
