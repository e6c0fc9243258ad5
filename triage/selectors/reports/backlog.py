"""Open findings now, by severity, from the mirror."""

from __future__ import annotations

from django.db.models import Count

from triage.models.reports import SEVERITIES
from triage.selectors.reports.scope import ReportScope


def open_by_severity(*, scope: ReportScope) -> dict[str, int]:
    rows = scope.findings().unresolved().values("severity").annotate(count=Count("id")).order_by()
    counts = dict.fromkeys(SEVERITIES, 0)
    for row in rows:
        counts[row["severity"]] = counts.get(row["severity"], 0) + row["count"]
    return counts
