"""The approvals inbox: requests waiting for a second person, their decisions, the policy."""

from dataclasses import dataclass
from datetime import date, datetime
from functools import wraps

from django.contrib import messages
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.defaultfilters import pluralize
from django.urls import path, reverse
from django.utils import timezone

from triage.filters.approvals import ApprovalInboxFilter
from triage.forms.fixes import DecisionForm
from triage.models import (
    DismissalRequest,
    FindingStatusJobItem,
    FixApproval,
    Repository,
    Role,
)
from triage.permissions import can, team_view
from triage.selectors import dismissals as dismissal_selectors
from triage.selectors import fixes as selectors
from triage.selectors import sync as sync_selectors
from triage.services import approvals as approval_services
from triage.services import dismissals as dismissal_services
from triage.services import four_eyes
from triage.services.errors import ServiceError
from triage.views.htmx import (
    Event,
    fragment_only,
    is_fragment,
    redirect_after_post,
    render_fragment,
    render_page,
)
from triage.views.list_filters import ignored_filters
from triage.views.settings import policies_redirect

Dismissal = DismissalRequest.Status
# Each tab of the inbox: the fix approval statuses and the dismissal statuses it lists.
STATUS_TABS = {
    "pending": ("Waiting", (FixApproval.Status.PENDING,), (Dismissal.PENDING,)),
    "approved": (
        "Approved",
        (FixApproval.Status.APPROVED,),
        (Dismissal.APPROVED, Dismissal.APPLIED, Dismissal.FAILED),
    ),
    "rejected": ("Rejected", (FixApproval.Status.REJECTED,), (Dismissal.REJECTED,)),
    "voided": ("Voided or cancelled", (FixApproval.Status.VOIDED,), (Dismissal.CANCELLED,)),
    "expired": ("Expired", (), (Dismissal.EXPIRED,)),
}
INBOX_LIMIT = 200


@dataclass
class InboxRow:
    """One request of the inbox, whichever kind: what it is, who asked, since when, until when."""

    kind: str
    title: str
    url: str
    repository: Repository | None
    requested_by: str
    created_at: datetime
    deadline: date | None
    approvals: int
    required: int
    note: str
    status_label: str

    @property
    def age_days(self) -> int:
        return max(0, (timezone.now() - self.created_at).days)


def _inbox_rows(request, tab: str) -> list[InboxRow]:
    _, fix_statuses, dismissal_statuses = STATUS_TABS[tab]
    slug = request.team.slug
    rows = []
    if fix_statuses:
        for a in selectors.approvals_queue(team=request.team, status=fix_statuses[0])[:INBOX_LIMIT]:
            rows.append(
                InboxRow(
                    kind="Pull requests",
                    title=a.fix.title,
                    url=reverse("fixes-detail", kwargs={"team_slug": slug, "fix_id": a.fix_id})
                    + "#approval",
                    repository=a.fix.repository,
                    requested_by=a.requested_by.get_username(),
                    created_at=a.created_at,
                    deadline=None,
                    approvals=len(a.decisions.all()),
                    required=a.required_approvals,
                    note=a.note,
                    status_label=a.get_status_display(),
                )
            )
    for d in dismissal_selectors.dismissals_queue(team=request.team, statuses=dismissal_statuses)[
        :INBOX_LIMIT
    ]:
        rows.append(
            InboxRow(
                kind="Dismissal",
                title=f"Set {d.total} finding{pluralize(d.total)} to "
                f"{d.get_requested_status_display()}",
                url=reverse(
                    "approvals-dismissal", kwargs={"team_slug": slug, "dismissal_id": d.pk}
                ),
                repository=None,
                requested_by=d.requested_by.get_username(),
                created_at=d.created_at,
                deadline=d.expires_on,
                approvals=d.approvals,
                required=d.required_approvals,
                note=d.reason,
                status_label=d.get_status_display(),
            )
        )
    rows.sort(key=lambda row: row.created_at)
    return rows[:INBOX_LIMIT]


@team_view(read=Role.VIEWER, write=Role.APPROVER)
def approvals(request):
    """Every request waiting for a second person: fix approvals and dismissals, oldest first."""
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    tab_filter = ApprovalInboxFilter(
        request.GET or None,
        queryset=FixApproval.objects.none(),
        tabs=[(key, tab[0]) for key, tab in STATUS_TABS.items()],
    )
    status = tab_filter.tab
    return render_page(
        request,
        "triage/approvals/list.html",
        {
            "rows": _inbox_rows(request, status),
            "status": status,
            "ignored_filters": ignored_filters(tab_filter),
            "tabs": [(key, tab[0]) for key, tab in STATUS_TABS.items()],
            "can_approve": can(request, Role.APPROVER),
            "data_as_of": sync_selectors.team_last_synced_at(team=request.team),
        },
        partial="approvals-inbox",
    )


@team_view(read=Role.VIEWER)
@fragment_only("approvals")
def approvals_badge(request):
    """The count beside "Approvals" in the navigation, fetched again when requests change
    (the count itself comes from the context processor, as on every page)."""
    return render_fragment(request, "base.html", "approvals-badge", {})


@team_view(read=Role.APPROVER, write=Role.APPROVER)
def approval_decide(request, approval_id: int):
    approval = (
        FixApproval.objects.filter(team=request.team, pk=approval_id).select_related("fix").first()
    )
    if approval is None:
        raise Http404("No such approval request")
    if request.method != "POST":
        return redirect("fixes-detail", team_slug=request.team.slug, fix_id=approval.fix_id)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose approve or reject.")
        return redirect_after_post(
            request, "fixes-detail", team_slug=request.team.slug, fix_id=approval.fix_id
        )
    approve = form.cleaned_data["decision"] == "approve"
    try:
        decided = approval_services.approval_decide(
            approval=approval,
            actor=request.user,
            approve=approve,
            comment=form.cleaned_data["comment"],
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        if decided.status == FixApproval.Status.APPROVED:
            if approval_services.approval_policy_for(request.team).open_pull_requests_on_approval:
                messages.success(request, "Approved. The pull requests are being opened.")
            else:
                messages.success(request, "Approved. Open the pull requests when you are ready.")
        elif decided.status == FixApproval.Status.REJECTED:
            messages.success(request, "Rejected. The requester sees your comment.")
        else:
            messages.success(request, "Your approval is recorded; another approver is needed.")
    return redirect_after_post(
        request, "fixes-detail", team_slug=request.team.slug, fix_id=approval.fix_id
    )


@team_view(read=Role.ADMIN, write=Role.ADMIN)
def approval_policy(request):
    """The approval policy moved to Settings → Policies; a form still posted here keeps its
    method and body (307), so nothing typed is lost."""
    return policies_redirect(request)


def _dismissal_or_404(request, dismissal_id: int) -> DismissalRequest:
    found = dismissal_selectors.dismissal_detail(team=request.team, dismissal_id=dismissal_id)
    if found is None:
        raise Http404("No such dismissal request")
    return found


@team_view(read=Role.VIEWER, write=Role.APPROVER)
def dismissal(request, dismissal_id: int):
    """One dismissal request: the reason, the findings, the decisions and how it was applied.

    While the status is being applied, the ``dismissal-progress`` partial polls itself; its
    last answer says the findings changed.
    """
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    found = _dismissal_or_404(request, dismissal_id)
    context = _dismissal_context(request, found)
    applying = context["applying"]
    return render_page(
        request,
        "triage/approvals/dismissal.html",
        context,
        partial="dismissal-progress",
        stop_polling=not applying,
        events=() if applying or context["job"] is None else (Event.FINDINGS_CHANGED,),
    )


def _dismissal_context(request, found: DismissalRequest) -> dict:
    job = found.apply_job
    applying = found.status == Dismissal.APPROVED and job is not None and job.is_active
    return {
        "dismissal": found,
        "items": dismissal_selectors.dismissal_items(request=found)[:500],
        "job": job,
        "applying": applying,
        "failures": (
            job.items.filter(outcome=FindingStatusJobItem.Outcome.FAILED).select_related("finding")[
                :100
            ]
            if job
            else []
        ),
        "may_decide": four_eyes.may_decide(
            request=found, actor=request.user, membership=request.membership
        ),
        "may_cancel": dismissal_services.dismissal_cancel_refusal(
            request=found, actor=request.user, membership=request.membership
        )
        is None,
        "decision_form": DecisionForm(),
        "nav_active": "approvals",
    }


def _dismissal_answer(request, dismissal_id: int, *, changed: bool):
    """After a decision or a cancel: htmx gets the request card again (and the approvals
    badge and the progress hear the change); a normal POST is redirected to the page."""
    if not is_fragment(request):
        return redirect_after_post(
            request,
            "approvals-dismissal",
            team_slug=request.team.slug,
            dismissal_id=dismissal_id,
        )
    found = _dismissal_or_404(request, dismissal_id)
    return render_fragment(
        request,
        "triage/approvals/dismissal.html",
        "dismissal-request",
        _dismissal_context(request, found),
        events=(Event.APPROVALS_CHANGED,) if changed else (),
    )


def _dismissal_write(view):
    """A write on one dismissal request: another team's request is a 404, and a GET of the
    write's URL goes to the request's page."""

    @wraps(view)
    def wrapped(request, dismissal_id: int):
        found = _dismissal_or_404(request, dismissal_id)
        if request.method != "POST":
            return redirect(
                "approvals-dismissal", team_slug=request.team.slug, dismissal_id=found.pk
            )
        return view(request, found)

    return wrapped


@team_view(read=Role.APPROVER, write=Role.APPROVER)
@_dismissal_write
def dismissal_decide(request, found: DismissalRequest):
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose approve or reject.")
        return _dismissal_answer(request, found.pk, changed=False)
    try:
        decided = dismissal_services.dismissal_decide(
            request=found,
            actor=request.user,
            approve=form.cleaned_data["decision"] == "approve",
            comment=form.cleaned_data["comment"],
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return _dismissal_answer(request, found.pk, changed=False)
    if decided.status == Dismissal.APPROVED:
        messages.success(request, "Approved. Kolega is being asked to apply the status.")
    elif decided.status == Dismissal.REJECTED:
        messages.success(request, "Rejected. Nothing changes; the requester sees why.")
    else:
        messages.success(request, "Your approval is recorded; another approver is needed.")
    return _dismissal_answer(request, found.pk, changed=True)


@team_view(read=Role.TRIAGER, write=Role.TRIAGER)
@_dismissal_write
def dismissal_cancel(request, found: DismissalRequest):
    try:
        dismissal_services.dismissal_cancel(request=found, actor=request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return _dismissal_answer(request, found.pk, changed=False)
    messages.success(request, "Cancelled. The findings keep their status.")
    return _dismissal_answer(request, found.pk, changed=True)


urlpatterns = [
    path("", approvals, name="approvals"),
    path("badge/", approvals_badge, name="approvals-badge"),
    path("<int:approval_id>/decide/", approval_decide, name="approvals-decide"),
    path("dismissals/<int:dismissal_id>/", dismissal, name="approvals-dismissal"),
    path(
        "dismissals/<int:dismissal_id>/decide/",
        dismissal_decide,
        name="approvals-dismissal-decide",
    ),
    path(
        "dismissals/<int:dismissal_id>/cancel/",
        dismissal_cancel,
        name="approvals-dismissal-cancel",
    ),
    path("policy/", approval_policy, name="approvals-policy"),
]
