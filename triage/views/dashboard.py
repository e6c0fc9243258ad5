"""The team dashboard: open risk per repository, scans, quotas and how fresh the mirror is.

The page renders from the mirror only. The quota meters are Kolega's and come in a fragment
loaded after the page; active batches and a first sync in progress poll their own fragments.
"""

from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_safe

from triage.models import Finding, KolegaConnection, Role, Severity
from triage.permissions import can, team_view
from triage.selectors import dashboard as dashboard_selectors
from triage.selectors.findings import my_queue_summary, queue_count_label
from triage.selectors.reports.scope import sla_policy_of
from triage.selectors.scans import active_scan_batches
from triage.services import scans as scan_services
from triage.views.htmx import fragment_only, refresh_page, render_fragment, render_page
from triage.views.options import escaped

TEMPLATE = "triage/dashboard/dashboard.html"
# The findings the open counts count, as the findings page's filter.
OPEN_QUERY = urlencode([("status", status) for status in Finding.UNRESOLVED_STATUSES])


@team_view(read=Role.VIEWER)
@require_safe
def dashboard(request):
    team = request.team
    freshness = dashboard_selectors.mirror_freshness(team=team)
    context = {
        "freshness": freshness,
        "can_start": can(request, Role.TRIAGER),
        "can_admin": can(request, Role.ADMIN),
        "nav_active": "dashboard",
    }
    if freshness.has_connection and not freshness.first_sync_pending:
        overview = dashboard_selectors.repository_overview(team=team)
        # Reversed once: the totals, the table's cells and the queue card all link to it.
        findings_base = reverse("findings", kwargs={"team_slug": team.slug})
        context |= {
            "overview": overview,
            "repository_rows": repository_rows_html(
                overview.rows, team_slug=team.slug, findings=findings_base
            ),
            "active_batches": active_scan_batches(team=team),
            "pull_requests": dashboard_selectors.recent_pull_requests(team=team),
            # The severity totals link to the findings page, filtered as the counts count.
            "findings_base": findings_base,
            "open_query": OPEN_QUERY,
        }
        queue = _queue_card(request, findings_base=findings_base)
        # The navigation's count is the card's: no second query for it.
        context |= {"queue": queue, "my_queue_count": queue_count_label(queue.total)}
    return render_page(request, TEMPLATE, context)


def repository_rows_html(
    rows: list[dashboard_selectors.RepositoryRow], *, team_slug: str, findings: str
) -> SafeString:
    """The repositories table's rows: each repository linked, its open findings per severity
    linked to the findings page so filtered, its last scan of each type linked to the batch.
    Built in Python: fifty rows of ten cells through the template engine cost more than every
    query of the page."""
    repositories = reverse("repositories", kwargs={"team_slug": team_slug})
    scans = reverse("scans", kwargs={"team_slug": team_slug})
    open_query = escaped(OPEN_QUERY)
    labels = dict(Severity.choices)
    html = []
    for row in rows:
        pk = row.repository.pk
        html.append(
            f'<tr><td><a href="{repositories}{pk}/" data-repository-link>'
            f"{escaped(row.repository.name)}</a></td>"
        )
        for severity, count in row.severity_cells():
            if not count:
                html.append('<td class="num"><span class="muted">0</span></td>')
                continue
            html.append(
                f'<td class="num"><a class="sev-{severity}" href="{findings}?repository={pk}'
                f'&amp;{open_query}&amp;severity={severity}" aria-label="{count} open '
                f'{escaped(labels[severity])}">{count}</a></td>'
            )
        for _, batch in row.scan_cells():
            if batch is None:
                html.append('<td class="nowrap"><span class="muted">never</span></td>')
                continue
            html.append(
                f'<td class="nowrap"><a class="state-{batch.state_class}" href="{scans}'
                f'{batch.pk}/">{escaped(batch.status_label)}</a> <time class="small muted" '
                f'datetime="{batch.created_iso}" data-relative title="{batch.created_text}">'
                f"{batch.created_text}</time></td>"
            )
        html.append("</tr>")
    return mark_safe("".join(html))  # noqa: S308 (names and labels escaped above)


def _queue_card(request, *, findings_base: str):
    """The "My queue" card: its counts and first findings, each row linked."""
    team = request.team
    summary = my_queue_summary(team=team, user=request.user, sla_days=sla_policy_of(team).days)
    for finding in summary.first:
        finding.url = f"{findings_base}{finding.pk}/"
    return summary


@team_view(read=Role.VIEWER)
@require_safe
@fragment_only("dashboard")
def dashboard_active(request):
    """Fragment: active batches with their progress; polling stops when none is left."""
    batches = active_scan_batches(team=request.team)
    return render_fragment(
        request,
        TEMPLATE,
        "active-batches",
        {"active_batches": batches, "can_start": can(request, Role.TRIAGER)},
        stop_polling=not batches,
    )


@team_view(read=Role.VIEWER)
@require_safe
@fragment_only("dashboard")
def dashboard_quota(request):
    """Fragment: this period's quota meters of every active connection (from Kolega, cached
    briefly)."""
    connections = KolegaConnection.objects.filter(
        team=request.team, state=KolegaConnection.State.ACTIVE
    )
    quotas = scan_services.quota_check(connections=connections, demand={})
    response = render_fragment(
        request, TEMPLATE, "quota-meters", {"quotas": quotas, "quotas_loaded": True}
    )
    response["Cache-Control"] = "no-store"
    return response


@team_view(read=Role.VIEWER)
@require_safe
@fragment_only("dashboard")
def dashboard_first_sync(request):
    """Fragment: the first sync's progress; when it has succeeded the browser reloads into
    the full dashboard."""
    freshness = dashboard_selectors.mirror_freshness(team=request.team)
    if not freshness.first_sync_pending:
        return refresh_page()
    return render_fragment(
        request,
        TEMPLATE,
        "first-sync",
        {"freshness": freshness, "can_admin": can(request, Role.ADMIN)},
    )


urlpatterns = [
    path("", dashboard, name="dashboard"),
    path("dashboard/active/", dashboard_active, name="dashboard-active"),
    path("dashboard/quota/", dashboard_quota, name="dashboard-quota"),
    path("dashboard/first-sync/", dashboard_first_sync, name="dashboard-first-sync"),
]
