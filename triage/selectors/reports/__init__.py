"""Read side of the reports page: every figure a manager takes to a meeting.

One module per section of the page: `scope` (whose findings, which days), `backlog` (open
findings now), `remediation` (time to remediate), `sla`, `repositories` (risk table and scan
coverage), `trends`, `forecast`, `fixes` (the fix funnel) and `quota`.

Every selector takes `now` so that a report can be computed for any moment, and tests move the
clock by passing it. Days are UTC days, so a chart of last quarter is the same for everyone.
Trend figures come from the daily snapshots rebuilt from finding events
(`triage.services.reports.report_snapshots_rebuild`); "now" figures come from the mirror.
"""

from triage.selectors.reports.backlog import open_by_severity
from triage.selectors.reports.fixes import FixFunnel, fix_funnel
from triage.selectors.reports.forecast import Forecast, forecasts
from triage.selectors.reports.quota import (
    QUOTA_COUNTERS,
    QUOTA_READING_LOOKBACK,
    QuotaCounterUse,
    QuotaUse,
    quota_use,
)
from triage.selectors.reports.remediation import RemediationTime, time_to_remediate
from triage.selectors.reports.repositories import (
    RISK_WEIGHTS,
    CoverageGap,
    RepositoryRow,
    last_scans_by_repository,
    repository_table,
    scan_coverage,
)
from triage.selectors.reports.scope import (
    ReportScope,
    report_repositories,
    sla_policy_of,
    team_repositories,
    utc_today,
)
from triage.selectors.reports.sla import (
    DUE_SOON_DAYS,
    SLA_KINDS,
    OpenStats,
    SlaRow,
    open_finding_stats,
    open_finding_stats_moved,
    sla_deadline,
    sla_findings,
    sla_summary,
)
from triage.selectors.reports.trends import DayPoint, Trends, WeekPoint, trends

__all__ = [
    "DUE_SOON_DAYS",
    "QUOTA_COUNTERS",
    "QUOTA_READING_LOOKBACK",
    "RISK_WEIGHTS",
    "SLA_KINDS",
    "CoverageGap",
    "DayPoint",
    "FixFunnel",
    "Forecast",
    "OpenStats",
    "QuotaCounterUse",
    "QuotaUse",
    "RemediationTime",
    "ReportScope",
    "RepositoryRow",
    "SlaRow",
    "Trends",
    "WeekPoint",
    "fix_funnel",
    "forecasts",
    "last_scans_by_repository",
    "open_by_severity",
    "open_finding_stats",
    "open_finding_stats_moved",
    "quota_use",
    "report_repositories",
    "repository_table",
    "scan_coverage",
    "sla_deadline",
    "sla_findings",
    "sla_policy_of",
    "sla_summary",
    "team_repositories",
    "time_to_remediate",
    "trends",
    "utc_today",
]
