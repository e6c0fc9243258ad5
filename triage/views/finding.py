"""A finding's page: what it is and where in the code, its timeline, its comment thread, the
fixes and pull requests that cover it; setting its status and commenting on it."""

from django.contrib import messages
from django.http import Http404
from django.urls import path, reverse

from triage.forms.findings import FindingCommentForm, FindingStatusForm
from triage.models import FindingComment, FindingStatus, Role
from triage.permissions import can, team_view
from triage.selectors import dismissals as dismissal_selectors
from triage.selectors import finding_page as page_selectors
from triage.selectors import findings as selectors
from triage.selectors import ownership as ownership_selectors
from triage.selectors import sync as sync_selectors
from triage.selectors.reports.scope import sla_policy_of
from triage.services import dismissals as dismissal_services
from triage.services import status_changes
from triage.services.errors import ServiceError
from triage.services.finding_comments import COMMENT_ROLE, finding_comment_add
from triage.views.finding_rows import decorate_rows
from triage.views.findings import (
    DISMISSAL_CHOICES,
    STATUS_KEYS,
    _sent_for_approval,
)
from triage.views.htmx import (
    Event,
    is_fragment,
    page_instead,
    redirect_after_post,
    render_fragment,
    render_page,
)

TEMPLATE = "triage/findings/detail.html"


def _finding_or_404(request, finding_id: int):
    found = selectors.finding_detail(team=request.team, finding_id=finding_id)
    if found is None:
        raise Http404("No such finding")
    return found


def _comments_context(request, found, form: FindingCommentForm | None = None) -> dict:
    return {
        "finding": found,
        "comments": page_selectors.finding_comments(finding=found),
        "comment_form": form or FindingCommentForm(),
        "comment_max_length": f"{FindingComment.MAX_LENGTH:,}",
        "can_comment": can(request, COMMENT_ROLE),
    }


def _page_context(request, found, *, comment_form: FindingCommentForm | None = None) -> dict:
    team = request.team
    dismissals_need_approval = dismissal_services.dismissals_need_approval(team)
    fixes = page_selectors.covering_fixes(finding=found)
    can_triage = can(request, Role.TRIAGER)
    return {
        **_comments_context(request, found, comment_form),
        "timeline": page_selectors.finding_timeline(finding=found, fixes=fixes),
        "location": page_selectors.code_location(finding=found),
        "dismissals_need_approval": dismissals_need_approval,
        "dismissal_statuses": DISMISSAL_CHOICES,
        "dismiss_form": FindingStatusForm() if dismissals_need_approval else None,
        "pending_dismissal": dismissal_selectors.pending_dismissal_for(finding=found),
        "fixes": fixes,
        "cwe_links": selectors.cwe_links(finding=found),
        "owasp_links": selectors.owasp_links(finding=found),
        "can_triage": can_triage,
        "owner": ownership_selectors.finding_owner(finding=found),
        # Starting a fix is the fix form's own rule: a triager, with this finding chosen.
        "start_fix_url": (
            f"{reverse('fixes-new', kwargs={'team_slug': team.slug})}?finding={found.pk}"
            if can_triage
            else ""
        ),
        "status_choices": FindingStatus.choices,
        "status_keys": STATUS_KEYS,
        "synced_at": sync_selectors.team_last_synced_at(team=team),
        "back_query": request.GET.get("back", ""),
        "nav_active": "findings",
    }


@team_view(read=Role.VIEWER, write=Role.TRIAGER)
def finding(request, finding_id: int):
    """A finding's page; POST sets its status (htmx: answers the table row, for the keys)."""
    found = _finding_or_404(request, finding_id)
    if request.method == "POST":
        return _finding_status_post(request, found)
    return render_page(request, TEMPLATE, _page_context(request, found))


@team_view(read=Role.VIEWER, write=COMMENT_ROLE)
def finding_comments(request, finding_id: int):
    """The finding's thread (htmx) and adding a comment to it.

    An htmx POST answers the thread, with the new comment or with the error and the text as
    it was typed; a normal POST goes back to the page, or shows it again with the error.
    """
    found = _finding_or_404(request, finding_id)
    if request.method != "POST":
        if not is_fragment(request):
            return page_instead(request, "finding", finding_id=found.pk)
        return render_fragment(
            request, TEMPLATE, "finding-comments", _comments_context(request, found)
        )
    form = FindingCommentForm(request.POST)
    error = None
    if form.is_valid():
        try:
            finding_comment_add(
                team=request.team, actor=request.user, finding=found, body=form.cleaned_data["body"]
            )
        except ServiceError as exc:
            error = exc.message
    else:
        error = "Write a comment first."
    if error:
        form.add_error("body", error)
        # htmx swaps no 4xx answer: the thread comes back as a 200 with the error in it.
        if is_fragment(request):
            return render_fragment(
                request, TEMPLATE, "finding-comments", _comments_context(request, found, form)
            )
        return render_page(
            request, TEMPLATE, _page_context(request, found, comment_form=form), status=400
        )
    if is_fragment(request):
        return render_fragment(
            request, TEMPLATE, "finding-comments", _comments_context(request, found)
        )
    messages.success(request, "Comment added.")
    url = reverse("finding", kwargs={"team_slug": request.team.slug, "finding_id": found.pk})
    return redirect_after_post(request, f"{url}#comments")


def _finding_status_post(request, found):
    form = FindingStatusForm(request.POST)
    error = None
    sent = None
    if not form.is_valid():
        if "status" in form.errors:
            error = "Choose a valid status."
        elif "comment" in form.errors:
            error = "Keep the comment under 2,000 characters."
        else:
            error = "Check the expiry date."
    else:
        try:
            change = status_changes.finding_status_change(
                team=request.team,
                actor=request.user,
                finding=found,
                status=form.cleaned_data["status"],
                reason=form.cleaned_data["reason"],
                expires_on=form.cleaned_data["expires_on"],
                comment=form.cleaned_data["comment"],
            )
            sent, found = change.dismissal, change.finding or found
        except ServiceError as exc:
            error = exc.message
            if exc.field == "reason" and is_fragment(request):
                error = "Dismissing needs approval: open the finding to give a reason."
    if is_fragment(request):
        decorate_rows(
            [found],
            team_slug=request.team.slug,
            sla_days=sla_policy_of(request.team).days,
            can_triage=True,
            error=error or "",
        )
        changed = () if error else (Event.FINDINGS_CHANGED,)
        if sent is not None:
            changed = (Event.APPROVALS_CHANGED,)
        return render_fragment(
            request,
            "triage/findings/list.html",
            "finding-row",
            {
                "f": found,
                "can_triage": True,
                "status_choices": FindingStatus.choices,
                "row_error": error,
            },
            events=changed,
        )
    if error:
        messages.error(request, error)
    elif sent is not None:
        messages.success(request, _sent_for_approval(sent))
    else:
        messages.success(request, "Kolega accepted the new status.")
    return redirect_after_post(request, "finding", team_slug=request.team.slug, finding_id=found.pk)


urlpatterns = [
    path("<int:finding_id>/", finding, name="finding"),
    path("<int:finding_id>/comments/", finding_comments, name="finding-comments"),
]
