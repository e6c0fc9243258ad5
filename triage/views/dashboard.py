"""The team dashboard: open risk per repository, scans, quotas and how fresh the mirror is.

The page renders from the mirror only. The quota meters are Kolega's and come in a fragment
loaded after the page; active batches and a first sync in progress poll their own fragments.
"""

from functools import wraps

from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseStopPolling

from triage.models import KolegaConnection, Role
from triage.permissions import can, team_view
from triage.selectors import dashboard as dashboard_selectors
from triage.selectors.scans import active_scan_batches
from triage.services import scans as scan_services

TEMPLATE = "triage/dashboard/dashboard.html"


def _fragment_only(view):
    """A fragment URL opened as a page (a bookmark, a new tab) leads to the dashboard."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.htmx:
            return redirect("dashboard", team_slug=request.team.slug)
        return view(request, *args, **kwargs)

    return wrapped


def _stop_polling_when(response, settled: bool):
    if settled:
        stop = HttpResponseStopPolling(response.content)
        stop["Content-Type"] = response["Content-Type"]
        return stop
    return response


@team_view(read=Role.VIEWER)
@require_safe
@vary_on_headers("HX-Request")
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
        context |= {
            "overview": dashboard_selectors.repository_overview(team=team),
            "active_batches": active_scan_batches(team=team),
            "pull_requests": dashboard_selectors.recent_pull_requests(team=team),
            # Built once: the table links every cell, and reversing per cell adds up.
            "findings_base": reverse("findings", kwargs={"team_slug": team.slug}),
            "scans_base": reverse("scans", kwargs={"team_slug": team.slug}),
        }
    return render(request, TEMPLATE, context)


@team_view(read=Role.VIEWER)
@require_safe
@_fragment_only
def dashboard_active(request):
    """Fragment: active batches with their progress; polling stops when none is left."""
    batches = active_scan_batches(team=request.team)
    response = render(
        request,
        TEMPLATE + "#active-batches",
        {"active_batches": batches, "can_start": can(request, Role.TRIAGER)},
    )
    return _stop_polling_when(response, not batches)


@team_view(read=Role.VIEWER)
@require_safe
@_fragment_only
def dashboard_quota(request):
    """Fragment: this period's quota meters of every active connection (from Kolega, cached
    briefly)."""
    connections = KolegaConnection.objects.filter(
        team=request.team, state=KolegaConnection.State.ACTIVE
    )
    quotas = scan_services.quota_check(connections=connections, demand={})
    response = render(
        request, TEMPLATE + "#quota-meters", {"quotas": quotas, "quotas_loaded": True}
    )
    response["Cache-Control"] = "no-store"
    return response


@team_view(read=Role.VIEWER)
@require_safe
@_fragment_only
def dashboard_first_sync(request):
    """Fragment: the first sync's progress; when it has succeeded the browser reloads into
    the full dashboard."""
    freshness = dashboard_selectors.mirror_freshness(team=request.team)
    response = render(
        request,
        TEMPLATE + "#first-sync",
        {"freshness": freshness, "can_admin": can(request, Role.ADMIN)},
    )
    if not freshness.first_sync_pending:
        response["HX-Refresh"] = "true"
    return response


urlpatterns = [
    path("", dashboard, name="dashboard"),
    path("dashboard/active/", dashboard_active, name="dashboard-active"),
    path("dashboard/quota/", dashboard_quota, name="dashboard-quota"),
    path("dashboard/first-sync/", dashboard_first_sync, name="dashboard-first-sync"),
]
