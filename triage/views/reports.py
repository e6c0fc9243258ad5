"""Reports for managers: the report page, the lists behind its SLA numbers, the SLA policy
and the CSV exports. Every view reads the mirror and the snapshots only."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from triage.charts import grouped_columns, horizontal_bars, stacked_columns
from triage.filters.findings import FindingFilter
from triage.forms.reports import (
    PERIOD_CHOICES,
    ReportFilterForm,
    SlaListForm,
)
from triage.models import (
    Finding,
    FindingEventType,
    FindingStatus,
    Role,
    ScanType,
    SlaPolicy,
)
from triage.models.reports import SEVERITIES
from triage.permissions import can, team_view
from triage.reports import cache as report_cache
from triage.reports.exports import FINDING_COLUMNS, csv_response, finding_rows
from triage.selectors import reports as report_selectors
from triage.selectors import sync as sync_selectors
from triage.selectors.campaigns import FUNNEL_STEPS
from triage.selectors.reports import RISK_WEIGHTS, ReportScope
from triage.services import reports as report_services
from triage.views.htmx import render_page
from triage.views.options import SELECTED, select_options
from triage.views.settings import policies_redirect

SEVERITY_SERIES = [(s.value, s.label) for s in SEVERITIES]
SLA_PAGE_SIZE = 50
# The riskiest repositories fit a printed page; the CSV export carries all of them.
REPOSITORY_ROWS_ON_PAGE = 25
CAMPAIGN_ROWS_ON_PAGE = 25


def _now() -> datetime:
    return timezone.now()


def _scope_from(request, now: datetime) -> tuple[ReportScope, ReportFilterForm, dict]:
    """The report's scope from the URL; values it cannot use fall back to the defaults."""
    today = report_selectors.utc_today(now)
    form = ReportFilterForm(request.GET, team=request.team, today=today)
    values = form.cleaned_data if form.is_valid() else form.defaults()
    scope = ReportScope(
        team=request.team,
        first_day=values["start"],
        last_day=values["end"],
        now=now,
        repository=values["repository"],
        owner=values["owner"],
    )
    return scope, form, values


def report_export(view):
    """A CSV export of the report (viewers and up) called with the report's scope, filter
    form and the team's SLA policy. A URL holding values the report cannot use exports
    nothing and says why, rather than the default report under a name the reader did not
    ask for."""

    @team_view(read=Role.VIEWER)
    @wraps(view)
    def export(request):
        scope, form, _ = _scope_from(request, _now())
        if form.errors:
            return render(request, "triage/reports/export_error.html", {"form": form}, status=400)
        policy = report_selectors.sla_policy_of(request.team)
        return view(request, scope=scope, form=form, policy=policy)

    return export


def _query_without(request, *names: str) -> str:
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


@team_view(read=Role.VIEWER)
def reports(request):
    now = _now()
    scope, form, values = _scope_from(request, now)
    team = request.team
    last_sync, events_pruned_before = sync_selectors.team_sync_marks(team=team)
    kept_from = report_selectors.utc_today(events_pruned_before) if events_pruned_before else None
    snapshot_state = report_services.report_snapshots_ensure(
        team=team, now=now, last_sync=last_sync
    )
    policy = report_selectors.sla_policy_of(team)
    version = report_cache.mirror_version(team=team, now=now)
    stats = report_cache.open_finding_stats(scope=scope, policy=policy, version=version)
    sla = report_selectors.sla_summary(scope=scope, policy=policy, stats=stats)
    open_now = {row.severity: row.open for row in sla}
    trend = _trends(
        scope=scope,
        version=version,
        snapshot_state=snapshot_state,
        open_now=open_now,
        kept_from=kept_from,
    )
    team_repositories = list(
        report_selectors.team_repositories(team).only("id", "name", "archived")
    )
    repositories = report_selectors.report_repositories(scope, of_team=team_repositories)
    last_scans = report_selectors.last_scans_by_repository(team=team)
    repository_rows = report_selectors.repository_table(
        scope=scope,
        policy=policy,
        repositories=repositories,
        last_scans=last_scans,
        stats=stats,
    )
    owner_rows = report_cache.owner_breakdown(
        scope=scope, policy=policy, version=version, owners=form.owners
    )
    charts = _charts(open_now=open_now, trend=trend)
    campaign_rows = report_selectors.campaign_report(scope=scope)
    context = {
        "form": form,
        "values": values,
        "scope": scope,
        "period_choices": PERIOD_CHOICES,
        "severities": SEVERITIES,
        "open_now": open_now,
        "open_total": sum(open_now.get(s, 0) for s in SEVERITIES),
        "sla": sla,
        "sla_policy": policy,
        "trend": trend,
        # Said when the period starts before the first day whose events are all kept.
        "history_kept_from": kept_from if kept_from and scope.first_day < kept_from else None,
        "events_retention_days": settings.PORTAL_EVENTS_RETENTION_DAYS,
        "severity_rows": trend.severity_rows(open_now),
        "daily_rows": _daily_rows(trend),
        "remediation": report_cache.time_to_remediate(scope=scope, version=version),
        "repository_rows": repository_rows[:REPOSITORY_ROWS_ON_PAGE],
        "repository_rows_hidden": max(0, len(repository_rows) - REPOSITORY_ROWS_ON_PAGE),
        "repository_count": len(repository_rows),
        "coverage": report_selectors.scan_coverage(
            scope=scope,
            within_days=values["coverage_days"],
            repositories=repositories,
            last_scans=last_scans,
        ),
        "repository_options": select_options(
            ((repository.pk, repository.name) for repository in team_repositories),
            scope.repository.pk if scope.repository is not None else None,
        ),
        "owner_rows": owner_rows,
        "unowned_open": report_selectors.unowned_open(owner_rows),
        "owner_options": _owner_options(form, scope),
        "funnel": report_selectors.fix_funnel(scope=scope),
        "campaign_rows": campaign_rows[:CAMPAIGN_ROWS_ON_PAGE],
        "campaign_rows_hidden": max(0, len(campaign_rows) - CAMPAIGN_ROWS_ON_PAGE),
        "campaign_steps": FUNNEL_STEPS,
        "quota_use": report_selectors.quota_use(team=team, now=now),
        "forecasts": report_selectors.forecasts(
            scope=scope, open_now=open_now, sla=sla, trend=trend
        ),
        "risk_weights": RISK_WEIGHTS,
        "scan_types": ScanType.choices,
        "charts": charts,
        "svgs": {
            name: chart.svg(
                element_id=f"chart-{name}",
                table_where="beside it" if name == "weekly" else "below",
            )
            for name, chart in charts.items()
        },
        "data_as_of": last_sync,
        "snapshot_state": snapshot_state,
        "generated_at": now,
        "query": request.GET.urlencode(),
        "query_without_owner": _query_without(request, "owner"),
        "findings_export_query": _findings_export_query(scope),
        "can_admin": can(request, Role.ADMIN),
    }
    return render_page(
        request,
        "triage/reports/page.html",
        context,
        partial="report",
        status=400 if form.errors else 200,
    )


def _findings_export_query(scope: ReportScope) -> str:
    """The "All findings" export narrowed as the report is: its repository and owner."""
    params = {}
    if scope.repository is not None:
        params["repository"] = str(scope.repository.pk)
    if scope.owner is not None:
        params.update(scope.owner.findings_filter)
    return urlencode(params)


def _owner_options(form: ReportFilterForm, scope: ReportScope) -> SafeString:
    """The owner filter's options, squads and members in groups, the current one selected."""
    selected = scope.owner.value if scope.owner is not None else None
    groups = {"squad": [], "member": []}
    for value, owner in form.owners.items():
        if owner.kind in groups:
            groups[owner.kind].append((value, owner.label))
    return format_html(
        '<option value="none"{}>Unowned (no squad, no member)</option>'
        '<optgroup label="Squads">{}</optgroup><optgroup label="Members">{}</optgroup>',
        SELECTED if selected == "none" else "",
        select_options(groups["squad"], selected),
        select_options(groups["member"], selected),
    )


def _trends(
    *, scope: ReportScope, version: str, snapshot_state, open_now: dict[str, int], kept_from
):
    """The period's trends, in agreement with the page's other figures whatever the state of
    the snapshot rebuild: the flows since the day of the last rebuild (all of them while a
    first rebuild is on its way) come from the mirror, as time to remediate does, and
    today's open counts are the ones the page shows as open now."""
    rebuilt_at = snapshot_state.rebuilt_at if snapshot_state else None
    mirror_from = report_selectors.utc_today(rebuilt_at) if rebuilt_at else scope.first_day
    trend = report_cache.trends(
        scope=scope,
        version=version,
        snapshots_rebuilt_at=rebuilt_at,
        mirror_from=mirror_from,
        kept_from=kept_from,
    )
    today = report_selectors.utc_today(scope.now)
    if scope.first_day <= today <= scope.last_day:
        trend = trend.with_open_on(today, open_now)
    return trend


def _daily_rows(trend) -> str:
    """The per-day numbers under the daily chart (up to a year of rows: built here, not in a
    template loop, for the same reason as the chart)."""
    return format_html_join(
        "",
        '<tr><td>{}</td>{}<td class="num">{}</td></tr>',
        (
            (
                format(point.day, "%a %d %b"),
                format_html_join("", '<td class="num">{}</td>', ((n,) for n in point.counts)),
                point.open_total,
            )
            for point in trend.days
        ),
    )


def _charts(*, open_now, trend) -> dict:
    return {
        "open_now": horizontal_bars(
            title="Open findings by severity now",
            description="Unresolved findings (open or waiting for manual review).",
            bars=[(s.label, open_now.get(s, 0), s.value) for s in SEVERITIES],
        ),
        "open_daily": stacked_columns(
            title="Open findings per day",
            description="Open findings at the end of each UTC day, stacked by severity.",
            columns=[(point.day, point.open_by_severity) for point in trend.days],
            series=SEVERITY_SERIES,
            width=1160,
        ),
        "weekly": grouped_columns(
            title="New and resolved per week",
            description="Findings first detected, reopened and resolved in each week.",
            groups=[
                (
                    f"{week.week_start:%d %b}",
                    {"new": week.new, "reopened": week.reopened, "resolved": week.resolved},
                )
                for week in trend.weeks
            ],
            series=[
                ("new", "New"),
                ("reopened", FindingEventType.REOPENED.label),
                ("resolved", FindingStatus.RESOLVED.label),
            ],
            width=760,
        ),
    }


@team_view(read=Role.VIEWER)
def sla_list(request):
    """The open findings behind one SLA count (breached or due soon, one or all severities)."""
    now = _now()
    scope, _, _ = _scope_from(request, now)
    list_form = SlaListForm(request.GET)
    if not list_form.is_valid():
        return render_page(
            request,
            "triage/reports/sla_list.html",
            {"list_form": list_form, "page": None, "scope": scope},
            status=400,
        )
    policy = report_selectors.sla_policy_of(request.team)
    kind = list_form.cleaned_data["kind"]
    severity = list_form.cleaned_data["severity"] or None
    findings = report_selectors.sla_findings(
        scope=scope, policy=policy, kind=kind, severity=severity
    )
    page = Paginator(findings, SLA_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(f, report_selectors.sla_deadline(f, policy)) for f in page]
    context = {
        "list_form": list_form,
        "kind": kind,
        "kind_label": report_selectors.SLA_KINDS[kind],
        "severity": severity,
        "page": page,
        "rows": rows,
        "scope": scope,
        "now": now,
        "query": _query_without(request, "page"),
        "report_query": _query_without(request, "page", "kind", "severity"),
    }
    return render_page(request, "triage/reports/sla_list.html", context, partial="sla-list")


@team_view(read=Role.VIEWER, write=Role.ADMIN)
def sla_policy(request):
    """The SLA policy moved to Settings → Policies."""
    return policies_redirect(request)


@team_view(read=Role.VIEWER)
def export_findings(request):
    """Every finding matching the findings page's filter, as CSV (no cap, streamed)."""
    filterset = FindingFilter(
        request.GET,
        team=request.team,
        user=request.user,
        queryset=Finding.objects.filter(team=request.team),
    )
    if not filterset.is_valid():
        return render(
            request, "triage/reports/export_error.html", {"form": filterset.form}, status=400
        )
    return csv_response(
        filename=f"{request.team.slug}-findings-{_now():%Y%m%d-%H%M}.csv",
        header=[name for name, _ in FINDING_COLUMNS],
        rows=finding_rows(filterset.qs),
    )


@report_export
def export_sla(request, *, scope: ReportScope, form: ReportFilterForm, policy: SlaPolicy):
    now = scope.now
    findings = report_selectors.sla_findings(scope=scope, policy=policy, kind="breached")

    def rows():
        for finding in findings.iterator(chunk_size=2000):
            deadline = report_selectors.sla_deadline(finding, policy)
            yield [
                finding.upstream_id,
                finding.repository.name,
                finding.severity,
                finding.status,
                finding.check_id,
                finding.title or finding.message[:200],
                finding.file_path,
                finding.first_detected_at,
                deadline,
                (now - deadline).days if deadline else "",
            ]

    return csv_response(
        filename=f"{request.team.slug}-sla-breaches-{now:%Y%m%d-%H%M}.csv",
        header=[
            "finding_id",
            "repository",
            "severity",
            "status",
            "check_id",
            "title",
            "file_path",
            "first_detected_at",
            "sla_deadline",
            "days_overdue",
        ],
        rows=rows(),
    )


@report_export
def export_repositories(request, *, scope: ReportScope, form: ReportFilterForm, policy: SlaPolicy):
    now = scope.now
    table = report_selectors.repository_table(scope=scope, policy=policy)
    return csv_response(
        filename=f"{request.team.slug}-repositories-{now:%Y%m%d-%H%M}.csv",
        header=[
            "repository",
            "weighted_risk",
            *[f"open_{s}" for s in SEVERITIES],
            "oldest_open_detected_at",
            "sla_breaches",
            *[f"last_{t}" for t in ScanType.values],
        ],
        rows=(
            [
                row.repository.name,
                row.risk,
                *[row.open_by_severity[s] for s in SEVERITIES],
                row.oldest_open,
                row.breaches,
                *[row.last_scans.get(t) for t in ScanType.values],
            ]
            for row in table
        ),
    )


OWNER_COLUMNS = [
    "owner_type",
    "owner",
    "owner_id",
    *[f"open_{s}" for s in SEVERITIES],
    "open_total",
    "past_sla",
    "resolved_in_period",
    "remediation_median_days",
    "remediation_p90_days",
]


def _tenths(value: float | None) -> str:
    """Days or hours to a tenth, rounded as the page's `floatformat:1` rounds them."""
    if value is None:
        return ""
    return str(Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


@report_export
def export_owners(request, *, scope: ReportScope, form: ReportFilterForm, policy: SlaPolicy):
    """The owner table of the report: one row per squad, member and the unowned."""
    now = scope.now
    version = report_cache.mirror_version(team=request.team, now=now)
    rows = report_cache.owner_breakdown(
        scope=scope, policy=policy, version=version, owners=form.owners
    )
    return csv_response(
        filename=f"{request.team.slug}-owners-{now:%Y%m%d-%H%M}.csv",
        header=OWNER_COLUMNS,
        rows=(
            [
                row.owner.kind,
                row.owner.label.removeprefix("@"),
                row.owner.pk,
                *row.open_counts,
                row.open_total,
                row.past_sla,
                row.resolved,
                _tenths(row.median_days),
                _tenths(row.p90_days),
            ]
            for row in rows
        ),
    )


CAMPAIGN_COLUMNS = [
    "campaign_id",
    "campaign",
    "state",
    "owner",
    "launched_at",
    "due_date",
    "findings_selected",
    "fix_started",
    "in_review_or_approved",
    "pull_request_opened",
    "merged",
    "resolved",
    "hours_to_first_merge",
    "hours_to_median_merge",
]


@report_export
def export_campaigns(request, *, scope: ReportScope, form: ReportFilterForm, policy: SlaPolicy):
    """The campaigns section of the report: one row per campaign, its funnel and merge times."""
    now = scope.now
    return csv_response(
        filename=f"{request.team.slug}-campaigns-{now:%Y%m%d-%H%M}.csv",
        header=CAMPAIGN_COLUMNS,
        rows=(
            [
                row.campaign.pk,
                row.campaign.name,
                row.campaign.state,
                row.campaign.owner.username if row.campaign.owner else "",
                row.campaign.launched_at,
                row.campaign.due_date or "",
                *[count for _, count in row.funnel],
                _tenths(row.first_hours_to_merge),
                _tenths(row.median_hours_to_merge),
            ]
            for row in report_selectors.campaign_report(scope=scope)
        ),
    )


urlpatterns = [
    path("", reports, name="reports"),
    path("sla/", sla_list, name="reports-sla"),
    path("sla/policy/", sla_policy, name="reports-sla-policy"),
    path("export/findings.csv", export_findings, name="reports-export-findings"),
    path("export/sla-breaches.csv", export_sla, name="reports-export-sla"),
    path("export/repositories.csv", export_repositories, name="reports-export-repositories"),
    path("export/owners.csv", export_owners, name="reports-export-owners"),
    path("export/campaigns.csv", export_campaigns, name="reports-export-campaigns"),
]
