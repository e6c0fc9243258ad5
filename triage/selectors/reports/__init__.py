"""Read side of the reports page: every figure a manager takes to a meeting.

One module per section of the page: `scope` (whose findings, which days), `backlog` (open
findings now), `remediation` (time to remediate), `sla`, `repositories` (risk table and scan
coverage), `owners` (findings by squad and member), `trends`, `forecast`, `fixes` (the fix
funnel), `campaigns` (each fix campaign's funnel) and `quota`.

Every selector takes `now` so that a report can be computed for any moment, and tests move the
clock by passing it. Days are UTC days, so a chart of last quarter is the same for everyone.
Trend figures come from the daily snapshots rebuilt from finding events
(`triage.services.reports.report_snapshots_rebuild`); "now" figures come from the mirror.
"""

from triage.selectors.reports.backlog import open_by_severity
from triage.selectors.reports.campaigns import CampaignReportRow, campaign_report
from triage.selectors.reports.fixes import FixFunnel, fix_funnel
from triage.selectors.reports.forecast import Forecast, forecasts
from triage.selectors.reports.owners import (
    OwnerRow,
    owner_breakdown,
    owner_remediation,
    unowned_open,
)
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
    ReportOwner,
    ReportScope,
    report_repositories,
    sla_policy_of,
    team_repositories,
    utc_today,
)
from triage.selectors.reports.sla import (
    BY_OWNER,
    BY_REPOSITORY,
    BY_REPOSITORY_AND_OWNER,
    DUE_SOON_DAYS,
    SLA_KINDS,
    OpenStats,
    SlaRow,
    open_finding_stats,
    open_finding_stats_moved,
    open_stats_rolled,
    sla_deadline,
    sla_findings,
    sla_summary,
)
from triage.selectors.reports.trends import (
    DayPoint,
    Trends,
    WeekPoint,
    history_kept_from,
    trends,
)

__all__ = [
    "BY_OWNER",
    "BY_REPOSITORY",
    "BY_REPOSITORY_AND_OWNER",
    "DUE_SOON_DAYS",
    "QUOTA_COUNTERS",
    "QUOTA_READING_LOOKBACK",
    "RISK_WEIGHTS",
    "SLA_KINDS",
    "CampaignReportRow",
    "CoverageGap",
    "DayPoint",
    "FixFunnel",
    "Forecast",
    "OpenStats",
    "OwnerRow",
    "QuotaCounterUse",
    "QuotaUse",
    "RemediationTime",
    "ReportOwner",
    "ReportScope",
    "RepositoryRow",
    "SlaRow",
    "Trends",
    "WeekPoint",
    "campaign_report",
    "fix_funnel",
    "forecasts",
    "history_kept_from",
    "last_scans_by_repository",
    "open_by_severity",
    "open_finding_stats",
    "open_finding_stats_moved",
    "open_stats_rolled",
    "owner_breakdown",
    "owner_remediation",
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
    "unowned_open",
    "utc_today",
]
