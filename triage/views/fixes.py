"""Fixes: start one from findings, follow its heartbeat, review its diff, refine, ask for
approval and open pull requests. Every page reads the mirror; writes go through services."""

from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import path, reverse

from triage.diffs import render_split, render_unified, versions_compared
from triage.filters.fixes import FixFilter
from triage.forms.fixes import (
    INSTRUCTION_TEMPLATES,
    ApprovalRequestForm,
    CommentForm,
    DecisionForm,
    FixRepositoryForm,
    FixStartForm,
    RefineForm,
)
from triage.forms.ids import pk_of, pks_of
from triage.models import Finding, FixApproval, PullRequestOpening, Role
from triage.permissions import can, team_view
from triage.selectors import campaigns as campaign_selectors
from triage.selectors import fixes as selectors
from triage.selectors import sync as sync_selectors
from triage.services import approvals as approval_services
from triage.services import fixes as fix_services
from triage.services.errors import ServiceError
from triage.views.htmx import (
    is_fragment,
    is_htmx,
    no_content,
    page_instead,
    redirect_after_post,
    render_fragment,
    render_page,
    stop_polling_and_refresh,
)
from triage.views.list_filters import list_page

PAGE_SIZE = 50
# The most findings one fix is started for from the portal.
MAX_FIX_FINDINGS = 200
# Files whose bodies load with the page's first screen; the rest load when scrolled to.
EAGER_FILES = 0


@team_view(read=Role.VIEWER, write=Role.TRIAGER)
def fixes(request):
    fix_filter = FixFilter(request.GET or None, queryset=selectors.fixes_list(team=request.team))
    return list_page(
        request,
        fix_filter,
        "triage/fixes/list.html#fixes-table",
        per_page=PAGE_SIZE,
        decorate=_with_requesters,
        context={"data_as_of": sync_selectors.team_last_synced_at(team=request.team)},
    )


def _with_requesters(fixes: list) -> None:
    requesters = selectors.fix_requesters(list(fixes))
    for fix in fixes:
        fix.requester_label = requesters.get(fix.pk, "")


def _selected_findings(request, values) -> list[Finding]:
    ids = pks_of(values, limit=MAX_FIX_FINDINGS)
    return list(Finding.objects.filter(team=request.team, pk__in=ids).select_related("repository"))


def _matching_finding_ids(request, filter_query: str) -> tuple[list[int], str]:
    from triage.views.findings import _filtered

    filterset = _filtered(request, QueryDict(filter_query))
    if not filterset.is_valid():
        return [], "The filters of the Findings page are not valid any more."
    ids = list(filterset.qs.values_list("pk", flat=True)[: MAX_FIX_FINDINGS + 1])
    if len(ids) > MAX_FIX_FINDINGS:
        return [], (
            f"A fix covers at most {MAX_FIX_FINDINGS} findings: narrow the filters or select rows."
        )
    return ids, ""


@dataclass
class _PlanForm:
    """One repository's part of the start form, and what happened when it was started."""

    plan: fix_services.FixPlan
    form: FixRepositoryForm
    error: str = ""


@team_view(read=Role.TRIAGER, write=Role.TRIAGER)
def fix_new(request):
    """Start fixes for findings chosen in triage (`?finding=<id>&finding=<id>`): one fix per
    repository of the findings.

    The Findings page's "Start a fix…" posts its selection here (a POST keeps its CSRF token
    out of the URL): without this form's own fields it only shows the form for the selection.
    """
    source = request.POST if request.method == "POST" else request.GET
    starting = request.method == "POST" and (
        "instructions" in request.POST or "title" in request.POST
    )
    problem = ""
    if not starting and source.get("all_matching"):
        # "All N findings matching these filters" on the Findings page: the filter's rows.
        values, problem = _matching_finding_ids(request, source.get("filter_query", ""))
    else:
        values = source.getlist("finding")
    findings = [] if problem else _selected_findings(request, values)
    plans: list[fix_services.FixPlan] = []
    if not problem:
        try:
            plans = fix_services.fix_plans(findings=findings)
        except ServiceError as exc:
            problem = exc.message
    if not problem and not findings:
        problem = "Choose findings to fix from the Findings page first."
    if problem:
        findings, plans = [], []
    # Several repositories: each one's fields carry its prefix. Kept once chosen, so the form
    # shown again for the repositories that failed reads the same fields.
    per_repository = len(plans) > 1 or bool(source.get("per_repository"))
    form = FixStartForm(
        request.POST if starting else None,
        initial={
            "finding": [f.pk for f in findings],
            "instructions": INSTRUCTION_TEMPLATES["minimal"][1],
        },
        finding_choices=[(f.pk, str(f)) for f in findings],
    )
    plan_forms = [
        _PlanForm(
            plan=plan,
            form=FixRepositoryForm(
                request.POST if starting else None,
                prefix=f"repo-{plan.repository.pk}" if per_repository else None,
                initial={
                    "title": plan.title,
                    "source_repo": plan.source_repo_proposed,
                    "branch": plan.default_branch,
                },
                source_repos=plan.source_repos,
            ),
        )
        for plan in plans
    ]
    started: list = []
    # Every repository's form is checked, so each shows its own errors at once.
    plans_valid = [p.form.is_valid() for p in plan_forms]
    valid = form.is_valid() and all(plans_valid)
    if starting and not problem and valid:
        try:
            outcomes = fix_services.fixes_start(
                team=request.team,
                actor=request.user,
                instructions=form.cleaned_data["instructions"],
                requests=[
                    fix_services.FixStartRequest(
                        finding_ids=[f.pk for f in p.plan.findings],
                        title=p.form.cleaned_data["title"],
                        source_repo=p.form.cleaned_data["source_repo"],
                        branch=p.form.cleaned_data["branch"] or None,
                    )
                    for p in plan_forms
                ],
            )
        except ServiceError as exc:
            form.add_error(None, exc.message)
            outcomes = []
        started = [o.fix for o in outcomes if o.started]
        failed = []
        for plan_form, outcome in zip(plan_forms, outcomes, strict=True):
            if outcome.started:
                continue
            field = outcome.error_field
            if field in plan_form.form.fields:
                plan_form.form.add_error(field, outcome.error)
            else:
                plan_form.error = outcome.error
            failed.append(plan_form)
        if started and not failed:
            if len(started) == 1:
                messages.success(request, "Fix started. Its progress shows below.")
                return redirect("fixes-detail", team_slug=request.team.slug, fix_id=started[0].pk)
            messages.success(
                request,
                f"{len(started)} fixes started, one per repository. Their progress shows here.",
            )
            return redirect("fixes", team_slug=request.team.slug)
        # Show the form again for the repositories whose fix did not start; only their
        # findings stay chosen, so starting again cannot start a fix twice.
        if started:
            plan_forms = failed
            findings = [f for p in failed for f in p.plan.findings]
            data = request.POST.copy()
            data.setlist("finding", [str(f.pk) for f in findings])
            form = FixStartForm(data, finding_choices=[(f.pk, str(f)) for f in findings])
            form.is_valid()
    repositories = [p.plan.repository for p in plan_forms]
    return render(
        request,
        "triage/fixes/new.html",
        {
            "form": form,
            "plan_forms": plan_forms,
            "findings": findings,
            "repositories": repositories,
            "per_repository": per_repository,
            "started": started,
            "problem": problem,
            "templates": INSTRUCTION_TEMPLATES,
        },
        status=400
        if (
            starting
            and (problem or form.errors or any(p.form.errors or p.error for p in plan_forms))
        )
        else 200,
    )


def _fix_or_404(request, fix_id: int):
    fix = selectors.fix_for_team(team=request.team, fix_id=fix_id)
    if fix is None:
        raise Http404("No such fix")
    return fix


def _heartbeat_context(request, fix):
    return {
        "fix": fix,
        "can_triage": can(request, Role.TRIAGER),
        "polling": not fix.is_settled or fix.needs_diff,
    }


FIX_ACTIONS = {"cancel", "refine", "request_approval", "open_pull_requests", "comment"}


@team_view(read=Role.VIEWER, write=Role.TRIAGER)
def fix_detail(request, fix_id: int):
    fix = _fix_or_404(request, fix_id)
    if request.method == "POST":
        return _fix_action(request, fix)
    return render_page(request, "triage/fixes/detail.html", _fix_page_context(request, fix))


def _fix_page_context(request, fix, **forms):
    versions = selectors.diff_versions(fix)
    _, current_number = _version_numbers(fix, versions)
    choice = selectors.diff_choice(fix=fix, sha256=request.GET.get("v", ""), versions=versions)
    if choice is None:
        raise Http404("No such version of the diff")
    has_diff = bool(choice.sha256) or (not choice.is_current) or choice.text is not None
    parsed = selectors.parsed_diff(choice) if has_diff else None
    if parsed is not None:
        counts = selectors.comment_counts(fix=fix, sha256=choice.sha256)
        for diff_file in parsed.files:
            diff_file.comment_count = counts.get(diff_file.path, 0)
    view = "split" if request.GET.get("view") == "split" else "unified"
    approval = selectors.current_approval(fix)
    user = request.user
    opening = selectors.current_opening(fix)
    actions = approval_services.fix_actions(
        fix=fix, approval=approval, opening=opening, actor=user, membership=request.membership
    )
    return {
        **_heartbeat_context(request, fix),
        "findings": selectors.fix_findings(fix),
        "choice": choice,
        "parsed": parsed,
        "view": view,
        # The current diff is listed once, under its number; these are the others.
        "earlier_versions": [v for v in versions if v.sha256 != fix.diff_sha256],
        "current_number": current_number,
        "reviewed": selectors.reviewed_paths(fix=fix, user=user, sha256=choice.sha256),
        "file_url_prefix": reverse(
            "fixes-file",
            kwargs={"team_slug": request.team.slug, "fix_id": fix.pk, "file_index": 0},
        )[: -len("0/")],
        "eager_files": EAGER_FILES,
        "approval": approval,
        "approval_voided_by_diff": approval is not None
        and approval.status in FixApproval.OPEN_STATUSES
        and approval.diff_sha256 != fix.diff_sha256,
        "may_decide": actions.decide,
        "may_request_approval": actions.request_approval,
        "may_refine": actions.refine,
        "opening": opening,
        "opening_in_flight": opening is not None
        and opening.status
        in (PullRequestOpening.Status.PENDING, PullRequestOpening.Status.SENDING),
        "may_open": actions.open_pull_requests,
        "pull_requests": selectors.fix_pull_requests(fix),
        "timeline": selectors.fix_timeline(fix),
        "refine_form": forms.get("refine_form") or RefineForm(),
        "approval_form": forms.get("approval_form") or ApprovalRequestForm(),
        "decision_form": DecisionForm(),
        "data_as_of": sync_selectors.team_last_synced_at(team=request.team),
        "campaign": _campaign_of(request, fix),
    }


def _campaign_of(request, fix):
    """The campaign covering the fix (the one the page was opened from, ``?campaign=<id>``,
    when given): the page then links to the campaign's next diff to review."""
    try:
        campaign_id = pk_of(request.GET["campaign"]) if request.GET.get("campaign") else None
    except ValueError:
        campaign_id = None
    return campaign_selectors.campaign_of_fix(
        team=request.team, campaign_id=campaign_id, fix_id=fix.pk
    )


def _fix_action(request, fix):
    action = request.POST.get("action")
    if action not in FIX_ACTIONS:
        messages.error(request, "Unknown action.")
        return redirect_after_post(
            request, "fixes-detail", team_slug=request.team.slug, fix_id=fix.pk
        )
    forms = {}
    try:
        if action == "cancel":
            fix_services.fix_cancel(fix=fix, actor=request.user)
            messages.success(request, "Fix cancelled.")
        elif action == "refine":
            form = forms["refine_form"] = RefineForm(request.POST)
            if not form.is_valid():
                raise ServiceError("Say what should change.")
            fix_services.fix_refine(
                fix=fix, actor=request.user, instructions=form.cleaned_data["instructions"]
            )
            messages.success(request, "Fix sent back to running with your instructions.")
        elif action == "request_approval":
            form = forms["approval_form"] = ApprovalRequestForm(request.POST)
            if not form.is_valid():
                raise ServiceError("Check the form.")
            approval_services.approval_request(fix=fix, actor=request.user, **form.cleaned_data)
            messages.success(request, "Approval requested. Approvers see it in their queue.")
        elif action == "open_pull_requests":
            approval_services.pull_requests_open(fix=fix, actor=request.user)
            messages.success(request, "Opening the pull requests.")
        elif action == "comment":
            return _comment(request, fix)
    except ServiceError as exc:
        messages.error(request, exc.message)
        if is_fragment(request):  # the cancel button: back to the page, which shows why
            return redirect_after_post(
                request, "fixes-detail", team_slug=request.team.slug, fix_id=fix.pk
            )
        context = _fix_page_context(request, fix, **forms)
        return render_page(request, "triage/fixes/detail.html", context, status=400)
    return redirect_after_post(request, "fixes-detail", team_slug=request.team.slug, fix_id=fix.pk)


def _comment(request, fix):
    form = CommentForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A comment needs some text and a line.")
        return redirect("fixes-detail", team_slug=request.team.slug, fix_id=fix.pk)
    data = form.cleaned_data
    fix_services.review_comment_add(
        fix=fix,
        actor=request.user,
        diff_sha256=data["diff_sha256"],
        file_path=data["file_path"],
        side=data["side"],
        line=data["line"],
        body=data["body"],
        parent_id=data["parent"],
    )
    if is_fragment(request):
        return _file_response(request, fix, sha256=data["diff_sha256"], path=data["file_path"])
    messages.success(request, "Comment added.")
    url = reverse("fixes-detail", kwargs={"team_slug": request.team.slug, "fix_id": fix.pk})
    return redirect(f"{url}?v={data['diff_sha256']}")


@team_view(read=Role.VIEWER, write=Role.VIEWER)
def fix_approval_card(request, fix_id: int):
    """The approval and pull-request card, polled while pull requests are being opened."""
    fix = _fix_or_404(request, fix_id)
    if not is_htmx(request):
        return page_instead(request, "fixes-detail", fix_id=fix.pk)
    context = _fix_page_context(request, fix)
    return render_fragment(
        request,
        "triage/fixes/detail.html",
        "approval-card",
        context,
        stop_polling=not context["opening_in_flight"],
    )


@team_view(read=Role.VIEWER, write=Role.VIEWER)
def fix_heartbeat(request, fix_id: int):
    """The polled status line. Once the fix has settled (and its diff is in), the page
    reloads to show the review, and polling stops."""
    fix = _fix_or_404(request, fix_id)
    if not is_htmx(request):
        return page_instead(request, "fixes-detail", fix_id=fix.pk)
    context = _heartbeat_context(request, fix)
    if not context["polling"]:
        return stop_polling_and_refresh()
    return render_fragment(request, "triage/fixes/detail.html", "heartbeat", context)


def _file_response(request, fix, *, sha256: str, path: str | None = None, index=None):
    choice = selectors.diff_choice(fix=fix, sha256=sha256)
    if choice is None:
        raise Http404("No such version")
    if path is not None:
        outline = selectors.parsed_diff(choice)
        index = next((f.index for f in outline.files if f.path == path), None)
    diff_file = selectors.diff_file_highlighted(choice, index) if index is not None else None
    if diff_file is None:
        raise Http404("No such file in this diff")
    view = "split" if request.GET.get("view") == "split" else "unified"
    can_comment = can(request, Role.TRIAGER)
    threads = {
        key: render_to_string(
            "triage/fixes/_threads.html",
            {
                "threads": roots,
                "fix": fix,
                "file": diff_file,
                "view": view,
                "can_comment": can_comment,
            },
            request=request,
        )
        for key, roots in selectors.file_comment_threads(
            fix=fix, sha256=choice.sha256, path=diff_file.path
        ).items()
    }
    render_rows = render_split if view == "split" else render_unified
    context = {
        "fix": fix,
        "file": diff_file,
        "choice": choice,
        "view": view,
        "rows_html": render_rows(diff_file, file_index=diff_file.index, threads=threads),
        "can_comment": can_comment,
    }
    return render_page(request, "triage/fixes/_file_body.html", context)


@team_view(read=Role.VIEWER, write=Role.VIEWER)
def fix_diff_file(request, fix_id: int, file_index: int):
    """One file's body, loaded when it scrolls into view or is expanded; POST marks it viewed."""
    fix = _fix_or_404(request, fix_id)
    sha256 = request.GET.get("v") or request.POST.get("v") or fix.diff_sha256
    if request.method == "POST":
        choice = selectors.diff_choice(fix=fix, sha256=sha256)
        if choice is None:
            raise Http404("No such version")
        parsed = selectors.parsed_diff(choice)
        if file_index >= len(parsed.files):
            raise Http404("No such file")
        viewed = request.POST.get("viewed") == "on"
        fix_services.reviewed_file_set(
            fix=fix,
            actor=request.user,
            diff_sha256=choice.sha256,
            file_path=parsed.files[file_index].path,
            viewed=viewed,
        )
        if is_fragment(request):
            return no_content()
        url = reverse("fixes-detail", kwargs={"team_slug": request.team.slug, "fix_id": fix.pk})
        return redirect_after_post(request, f"{url}?v={choice.sha256}")
    return _file_response(request, fix, sha256=sha256, index=file_index)


def _version_numbers(fix, versions) -> tuple[dict[int, str], int | None]:
    """The sha of each numbered version of the diff, and the current diff's number: its kept
    version's, or the next one while it is not kept yet."""
    shas = {v.number: v.sha256 for v in versions}
    if not fix.diff_sha256:
        return shas, None
    current = next((n for n, sha in shas.items() if sha == fix.diff_sha256), None)
    if current is None:
        current = max(shas, default=0) + 1
        shas[current] = fix.diff_sha256
    return shas, current


@team_view(read=Role.VIEWER, write=Role.VIEWER)
def fix_compare(request, fix_id: int):
    """What changed in the files between two versions of the diff: by default the two latest."""
    fix = _fix_or_404(request, fix_id)
    versions = list(fix.diff_versions.all())
    shas, current_number = _version_numbers(fix, versions)
    numbers = sorted(shas)
    try:
        a = pk_of(request.GET.get("a", "0"))
        b = pk_of(request.GET.get("b", "0"))
    except ValueError:
        a = b = 0
    if a not in shas or b not in shas:
        a, b = (numbers[-2], numbers[-1]) if len(numbers) > 1 else (0, 0)
    texts = {v.number: v.diff for v in versions}
    if current_number is not None and current_number not in texts:
        texts[current_number] = fix.diff or ""
    comparison = None
    if a and b and a != b:
        comparison = versions_compared(old_text=texts[a], new_text=texts[b])
    return render_page(
        request,
        "triage/fixes/compare.html",
        {
            "fix": fix,
            "numbers": numbers,
            "a": a,
            "b": b,
            "current_number": current_number,
            "comparison": comparison,
        },
    )


urlpatterns = [
    path("", fixes, name="fixes"),
    path("new/", fix_new, name="fixes-new"),
    path("<int:fix_id>/", fix_detail, name="fixes-detail"),
    path("<int:fix_id>/heartbeat/", fix_heartbeat, name="fixes-heartbeat"),
    path("<int:fix_id>/approval/", fix_approval_card, name="fixes-approval"),
    path("<int:fix_id>/files/<int:file_index>/", fix_diff_file, name="fixes-file"),
    path("<int:fix_id>/compare/", fix_compare, name="fixes-compare"),
]
