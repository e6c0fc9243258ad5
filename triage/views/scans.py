"""Scans: the batch list, starting batches, and each batch's live progress and results."""

from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_safe

from triage.forms.ids import pks_of
from triage.forms.scans import ScanBatchFilter, ScanStartForm
from triage.models import KolegaConnection, Role
from triage.permissions import can, team_view
from triage.selectors import scans as scan_selectors
from triage.selectors.dashboard import mirror_freshness
from triage.services import scans as scan_services
from triage.services.errors import ServiceError
from triage.views.htmx import fragment_only, render_fragment, render_page
from triage.views.list_filters import list_page

BATCHES_PER_PAGE = 25
# Batches shown together after starting them (a request may start many).
STARTED_LIMIT = 200


@team_view(read=Role.VIEWER)
@require_safe
def scans(request):
    """The team's scan batches, newest first, filtered by repository, type and status."""
    team = request.team
    batch_filter = ScanBatchFilter(
        request.GET or None,
        queryset=scan_selectors.scan_batches_for_team(team=team).order_by("-created_at", "-id"),
        team=team,
    )
    return list_page(
        request,
        batch_filter,
        "triage/scans/list.html#scan-table",
        per_page=BATCHES_PER_PAGE,
        rows=batch_filter.qs if batch_filter.is_bound else batch_filter.queryset,
        decorate=_decorated,
        context={
            "can_start": can(request, Role.TRIAGER),
            "freshness": mirror_freshness(team=team),
            "nav_active": "scans",
        },
    )


def _decorated(batches: list) -> None:
    for batch in batches:
        scan_selectors.decorate_batch(batch)


@team_view(read=Role.TRIAGER, write=Role.TRIAGER)
def scan_new(request):
    """The start-scans form; the quota preview beside it is loaded by htmx afterwards."""
    team = request.team
    form = ScanStartForm(request.POST or None, team=team, initial=_initial(request))
    outcomes = []
    if request.method == "POST" and form.is_valid():
        try:
            outcomes = scan_services.scan_batches_start(
                team=team,
                actor=request.user,
                repository_ids=[r.pk for r in form.cleaned_data["repositories"]],
                scan_types=form.cleaned_data["scan_types"],
            )
        except ServiceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            started = [outcome for outcome in outcomes if outcome.started]
            for outcome in outcomes:
                if not outcome.started:
                    messages.error(
                        request,
                        f"{outcome.scan_type_label} of {outcome.repository.name} was not "
                        f"started. {outcome.error}",
                    )
            if started:
                messages.success(
                    request,
                    f"Started {len(started)} scan batch{'es' if len(started) != 1 else ''}.",
                )
                url = reverse("scan-started", kwargs={"team_slug": team.slug})
                query = urlencode([("batch", outcome.batch.pk) for outcome in started])
                return redirect(f"{url}?{query}")
            form.add_error(None, "No scan was started.")
    return render(
        request,
        "triage/scans/new.html",
        {
            "form": form,
            "outcomes": outcomes,
            "has_repositories": form.fields["repositories"].queryset.exists(),
            "has_connection": KolegaConnection.objects.filter(team=team).exists(),
            "nav_active": "scans",
        },
        status=400 if form.errors else 200,
    )


def _initial(request) -> dict:
    """Preselect what a link asked for (e.g. "Scan again" on a batch or the dashboard)."""
    initial = {}
    if request.method == "GET":
        repositories = [v for v in request.GET.getlist("repository") if v.isdigit()]
        scan_types = request.GET.getlist("scan_type")
        if repositories:
            initial["repositories"] = repositories
        if scan_types:
            initial["scan_types"] = scan_types
    return initial


@team_view(read=Role.TRIAGER)
@require_safe
@fragment_only("scan-new")
def scan_new_quota(request):
    """Fragment: the quota counters the chosen scans draw on, what they take and what remains.

    Only ever a fragment: the form page loads it after rendering, so the page never waits
    for Kolega.
    """
    team = request.team
    form = ScanStartForm(request.GET or None, team=team)
    repositories, scan_types = form.chosen()
    demand = scan_services.scan_demand(repositories=repositories, scan_types=scan_types)
    connections = KolegaConnection.objects.filter(team=team, state=KolegaConnection.State.ACTIVE)
    if repositories:
        connections = connections.filter(pk__in={r.connection_id for r in repositories})
    quotas = scan_services.quota_check(connections=connections, demand=demand)
    blocked = any(quota.error or quota.exhausted for quota in quotas if quota.demands)
    response = render_fragment(
        request,
        "triage/scans/new.html",
        "quota-preview",
        {
            "quotas": quotas,
            "chosen": bool(repositories and scan_types),
            "batches": len(repositories) * len(scan_types),
            "blocked": blocked,
        },
    )
    response["Cache-Control"] = "no-store"
    return response


@team_view(read=Role.VIEWER)
@require_safe
def scan_started(request):
    """The batches one request started, progressing live until every one has finished."""
    ids = pks_of(request.GET.getlist("batch"), limit=STARTED_LIMIT)
    batches = scan_selectors.scan_batches_by_ids(team=request.team, batch_ids=ids)
    settled = all(batch.is_settled for batch in batches)
    return render_page(
        request,
        "triage/scans/started.html",
        {
            "batches": batches,
            "settled": settled,
            "poll_url": request.get_full_path(),
            "nav_active": "scans",
        },
        partial="started-batches",
        stop_polling=settled,
    )


@team_view(read=Role.VIEWER)
@require_safe
def scan_batch(request, batch_id: int):
    """One batch: overall progress, one row per source repo, then its results."""
    batch = scan_selectors.scan_batches_for_team(team=request.team).filter(pk=batch_id).first()
    if batch is None:
        raise Http404("No such scan batch")
    scan_selectors.decorate_batch(batch)
    results = scan_selectors.batch_results(batch=batch) if batch.is_terminal else None
    return render_page(
        request,
        "triage/scans/batch.html",
        {
            "batch": batch,
            "source_repos": scan_selectors.batch_source_repos(batch),
            "results": results,
            "findings_url": reverse("findings", kwargs={"team_slug": request.team.slug})
            + f"?batch={batch.pk}",
            "can_start": can(request, Role.TRIAGER),
            "nav_active": "scans",
        },
        partial="batch-progress",
        stop_polling=batch.is_settled,
    )


urlpatterns = [
    path("", scans, name="scans"),
    path("new/", scan_new, name="scan-new"),
    path("new/quota/", scan_new_quota, name="scan-new-quota"),
    path("started/", scan_started, name="scan-started"),
    path("<int:batch_id>/", scan_batch, name="scan-batch"),
]
