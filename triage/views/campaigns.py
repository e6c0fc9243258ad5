"""Fix campaigns: the list, a new campaign from a selection, its plan and launch, its fixes
with their progress, and the campaign-wide actions. Writes go through the campaign services,
which start, cancel and open each fix through the single-fix services."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.timesince import timesince
from django.views.decorators.http import require_safe

from triage.charts import stacked_columns
from triage.forms.campaigns import CampaignActionForm, CampaignForm
from triage.forms.ids import pk_of
from triage.models import Campaign, CampaignRepository, Role
from triage.permissions import can, team_view
from triage.reports.exports import csv_response
from triage.selectors import campaigns as selectors
from triage.selectors import sync as sync_selectors
from triage.services import campaigns as services
from triage.services.errors import ServiceError
from triage.views.htmx import (
    is_htmx,
    page_instead,
    redirect_after_post,
    render_fragment,
    render_page,
)

PAGE_SIZE = 50


@team_view(read=Role.VIEWER)
@require_safe
def campaigns(request):
    queryset = selectors.campaigns_list(team=request.team)
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    selectors.campaign_list_progress(list(page.object_list))
    return render_page(
        request,
        "triage/campaigns/list.html",
        {"page": page, "can_triage": can(request, Role.TRIAGER)},
    )


@team_view(read=Role.TRIAGER, write=Role.TRIAGER)
def campaign_new(request):
    """The new-campaign form. The findings page links here with its filters (``filter_query``)
    and its selection bar and rule groups post them here: without the form's own fields, a
    POST only shows the form for them (a POST keeps its CSRF token out of the URL)."""
    members = selectors.campaign_members(team=request.team)
    creating = request.method == "POST" and "name" in request.POST
    source = request.POST if request.method == "POST" else request.GET
    if creating:
        form = CampaignForm(request.POST, members=members)
    else:
        form = CampaignForm(
            members=members,
            initial={
                "filter_query": source.get("filter_query", "")[:4000],
                "check_ids": "\n".join(source.getlist("check_id")[:50]),
            },
        )
    if creating and form.is_valid():
        data = form.cleaned_data
        try:
            campaign = services.campaign_create(
                team=request.team,
                actor=request.user,
                name=data["name"],
                description=data["description"],
                owner_id=data["owner"].pk if data["owner"] else None,
                due_date=data["due_date"],
                instructions=data["instructions"],
                follow_new=data["follow_new"],
                selection=services.CampaignSelection(
                    filter_query=data["filter_query"],
                    check_ids=data["check_ids"],
                    cwes=data["cwes"],
                    severities=data["severities"],
                ),
            )
        except ServiceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, "Campaign created. Check its plan, then launch it.")
            return redirect(
                "campaigns-detail", team_slug=request.team.slug, campaign_id=campaign.pk
            )
    return render_page(
        request,
        "triage/campaigns/new.html",
        {"form": form, "nav_active": "campaigns"},
        status=400 if creating else 200,
    )


def _campaign_or_404(request, campaign_id: int) -> Campaign:
    campaign = selectors.campaign_for_team(team=request.team, campaign_id=campaign_id)
    if campaign is None:
        raise Http404("No such campaign")
    return campaign


BURNDOWN_SERIES = [("burndown-open", "Open findings"), ("burndown-forecast", "Forecast")]


def _burndown_chart(burndown: selectors.Burndown):
    return stacked_columns(
        title="Open findings per day",
        description="The campaign's open findings at the end of each day since launch, then "
        "the forecast at the pace so far.",
        columns=[
            (day, {"burndown-forecast" if forecast else "burndown-open": count})
            for day, count, forecast in burndown.days
        ],
        series=BURNDOWN_SERIES,
    )


def _decorate_rows(rows, *, team_slug: str, campaign_id: int) -> None:
    """Per-row display values worked out once in Python: the fixes table renders on every
    poll, and per-row template tags dominate its cost."""
    fix_prefix = reverse("fixes", kwargs={"team_slug": team_slug})
    for shown in rows:
        fix = shown.row.fix
        shown.fix_url = f"{fix_prefix}{fix.pk}/?campaign={campaign_id}" if fix else ""
        shown.heartbeat = _heartbeat(fix) if fix else "—"


def _heartbeat(fix) -> str:
    parts = []
    if fix.duration_seconds is not None:
        parts.append(f"{fix.duration_seconds:.0f} s")
    steps = fix.agent_steps_completed
    parts.append(f"{steps} step{'' if steps == 1 else 's'}")
    if fix.latest_activity_at:
        parts.append(f"{timesince(fix.latest_activity_at)} ago")
    return " · ".join(parts)


def _detail_context(request, campaign: Campaign) -> dict:
    overview = selectors.campaign_overview(campaign=campaign)
    _decorate_rows(overview.rows, team_slug=request.team.slug, campaign_id=campaign.pk)
    burndown = selectors.campaign_burndown(campaign=campaign)
    chart = _burndown_chart(burndown)
    return {
        "burndown": burndown,
        "burndown_chart": chart,
        "burndown_svg": chart.svg(element_id="campaign-burndown", table_where="beside it"),
        "campaign": campaign,
        "overview": overview,
        "can_triage": can(request, Role.TRIAGER),
        "is_draft": campaign.state == Campaign.State.DRAFT,
        "is_launched": campaign.state == Campaign.State.LAUNCHED,
        "planned": overview.states[CampaignRepository.State.PLANNED],
        "may_launch": services.campaign_launch_refusal(campaign) is None,
        "data_as_of": sync_selectors.team_last_synced_at(team=request.team),
        "nav_active": "campaigns",
    }


@team_view(read=Role.VIEWER, write=Role.TRIAGER)
def campaign_detail(request, campaign_id: int):
    """The campaign's page; for htmx its fixes and progress, polled while any fix starts or
    runs (286 once none does)."""
    campaign = _campaign_or_404(request, campaign_id)
    if request.method == "POST":
        return _campaign_action(request, campaign)
    context = _detail_context(request, campaign)
    return render_page(
        request,
        "triage/campaigns/detail.html",
        context,
        partial="campaign-fixes",
        stop_polling=not context["overview"].polling,
    )


def _campaign_action(request, campaign: Campaign):
    form = CampaignActionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Unknown action.")
        return redirect_after_post(
            request, "campaigns-detail", team_slug=request.team.slug, campaign_id=campaign.pk
        )
    action = form.cleaned_data["action"]
    try:
        if action == "launch":
            services.campaign_launch(campaign=campaign, actor=request.user)
            messages.success(request, "Campaign launched: its fixes are starting.")
        elif action == "retry_failed":
            count = services.campaign_retry_failed(campaign=campaign, actor=request.user)
            messages.success(request, f"Retrying {count} fix(es) that failed to start.")
        elif action == "cancel_running":
            outcomes = services.campaign_cancel_running(campaign=campaign, actor=request.user)
            _tell(request, outcomes, done="cancelled")
        elif action == "open_pull_requests":
            outcomes = services.campaign_pull_requests_open(campaign=campaign, actor=request.user)
            _tell(request, outcomes, done="asked to open their pull requests")
        elif action == "cancel":
            services.campaign_cancel(campaign=campaign, actor=request.user)
            messages.success(request, "Campaign cancelled.")
    except ServiceError as exc:
        messages.error(request, exc.message)
        context = _detail_context(request, campaign)
        return render_page(request, "triage/campaigns/detail.html", context, status=400)
    return redirect_after_post(
        request, "campaigns-detail", team_slug=request.team.slug, campaign_id=campaign.pk
    )


def _tell(request, outcomes, *, done: str) -> None:
    succeeded = [o for o in outcomes if o.done]
    if succeeded:
        messages.success(request, f"{len(succeeded)} fix(es) {done}.")
    for outcome in outcomes:
        if not outcome.done:
            messages.warning(request, f"{outcome.row.source_repo}: {outcome.message}")
    if not outcomes:
        messages.info(request, "No fix of this campaign was running.")


@team_view(read=Role.TRIAGER)
@require_safe
def campaign_quota(request, campaign_id: int):
    """Fragment: the `prs` quota each connection has against the fixes the launch would
    start. Loaded after the page, so the page never waits for Kolega."""
    campaign = _campaign_or_404(request, campaign_id)
    if not is_htmx(request):
        return page_instead(request, "campaigns-detail", campaign_id=campaign.pk)
    check = services.campaign_launch_check(campaign=campaign)
    response = render_fragment(
        request,
        "triage/campaigns/detail.html",
        "quota-preview",
        {"campaign": campaign, "check": check},
    )
    response["Cache-Control"] = "no-store"
    return response


@team_view(read=Role.VIEWER)
@require_safe
def campaign_review_next(request, campaign_id: int):
    """To the next fix of the campaign with a diff to review (after ``?after=<fix id>``), on
    the fix's own review page."""
    campaign = _campaign_or_404(request, campaign_id)
    try:
        after = pk_of(request.GET["after"]) if request.GET.get("after") else None
    except ValueError:
        after = None
    fix_id = selectors.campaign_review_next(campaign=campaign, after_fix_id=after)
    if fix_id is None:
        messages.info(request, "No diff of this campaign waits for review.")
        return redirect("campaigns-detail", team_slug=request.team.slug, campaign_id=campaign.pk)
    url = reverse("fixes-detail", kwargs={"team_slug": request.team.slug, "fix_id": fix_id})
    return redirect(f"{url}?campaign={campaign.pk}")


EXPORT_HEADER = [
    "campaign",
    "repository",
    "source_repo",
    "round",
    "start",
    "start_error",
    "fix_id",
    "fix_status",
    "findings",
    "unresolved",
    "stage",
    "approval",
    "pull_requests",
    "launched_at",
    "first_merged_at",
    "hours_launch_to_merge",
]


@team_view(read=Role.VIEWER)
@require_safe
def campaign_export(request, campaign_id: int):
    """The campaign's fixes as CSV: each one's start, status, approval, pull requests and the
    time from launch to merge."""
    campaign = _campaign_or_404(request, campaign_id)
    overview = selectors.campaign_overview(campaign=campaign)
    rows = (
        [
            campaign.name,
            r.row.repository.name,
            r.row.source_repo,
            r.row.round,
            r.row.get_state_display(),
            r.row.error,
            r.row.fix_upstream_id,
            r.row.fix.status_label if r.row.fix else "",
            r.findings,
            r.unresolved,
            r.stage_label,
            r.approval.get_status_display() if r.approval else "",
            [pr.pr_url for pr in r.row.fix.pull_requests.all()] if r.row.fix else [],
            campaign.launched_at,
            r.merged_at,
            round(r.hours_to_merge, 1) if r.hours_to_merge is not None else None,
        ]
        for r in overview.rows
    )
    return csv_response(
        filename=f"{request.team.slug}-campaign-{campaign.pk}.csv",
        header=EXPORT_HEADER,
        rows=rows,
    )


urlpatterns = [
    path("", campaigns, name="campaigns"),
    path("new/", campaign_new, name="campaigns-new"),
    path("<int:campaign_id>/", campaign_detail, name="campaigns-detail"),
    path("<int:campaign_id>/quota/", campaign_quota, name="campaigns-quota"),
    path("<int:campaign_id>/review-next/", campaign_review_next, name="campaigns-review-next"),
    path("<int:campaign_id>/export.csv", campaign_export, name="campaigns-export"),
]
