"""Findings triage: the filtered table, bulk status jobs and saved views (a finding's page is
in `triage.views.finding`).

List pages answer the whole page, or (for htmx) the ``findings-page`` partial that holds the
filters and the table; every state lives in the query string, pushed with ``hx-push-url``.
"""

import json

from django.contrib import messages
from django.http import Http404, HttpResponseNotAllowed, QueryDict
from django.shortcuts import redirect, render
from django.urls import path, reverse

from triage.filters.findings import ASSIGNED_CHOICES, NON_FILTER_PARAMETERS, FindingFilter
from triage.forms.findings import (
    AssignSelectionForm,
    BulkStatusForm,
    FindingSelectionForm,
    SavedViewForm,
)
from triage.models import (
    DISMISSAL_STATUSES,
    FindingStatus,
    FindingStatusJobItem,
    Role,
    ScanType,
    label_of,
)
from triage.permissions import can, team_view
from triage.selectors import findings as selectors
from triage.selectors import ownership as ownership_selectors
from triage.selectors import sync as sync_selectors
from triage.selectors.reports.scope import sla_policy_of
from triage.services import dismissals as dismissal_services
from triage.services import findings as services
from triage.services import ownership as ownership_services
from triage.services import status_changes
from triage.services.errors import ServiceError
from triage.views.finding_rows import decorate_rows
from triage.views.htmx import (
    Event,
    fragment_only,
    is_fragment,
    is_htmx,
    redirect_after_post,
    render_fragment,
    render_page,
    send_events,
)
from triage.views.list_filters import (
    ignored_choice,
    ignored_filters,
    ignored_parameters,
    shown,
)
from triage.views.options import select_options

# Keyboard keys of the table, by status; the help dialog and findings.js read the same map.
STATUS_KEYS = {
    "open": "u",
    "needs_manual_review": "m",
    "resolved": "r",
    "ignored": "i",
    "false_positive": "f",
}
# Keys of the table that assign: the selected (or cursor) rows to oneself, or to someone.
ASSIGN_KEYS = {"claim": "c", "assign": "a"}
DISMISSAL_CHOICES = [(status.value, status.label) for status in DISMISSAL_STATUSES]
SORTABLE_COLUMNS = {
    "severity": "severity",
    "age": "age",
    "last": "last_detected",
    "file": "file",
    "sla": "sla",
}


def _status_key_list() -> list[tuple[str, str]]:
    return [(key, FindingStatus(status).label) for status, key in STATUS_KEYS.items()]


def _query(params: QueryDict, **changes) -> str:
    """``params`` with ``changes`` applied (None removes), as a query string."""
    result = params.copy()
    for name, value in changes.items():
        result.pop(name, None)
        if value is not None:
            result[name] = value
    return result.urlencode()


# My queue is this page scoped to the user's open findings: the scope rides in the URL state
# the page posts (``filter_query``), so "all matching" of a bulk action means all in the queue.
# The findings page grouped: by rule (``?group=rule``, views/finding_groups.py), or not.
GROUP_PARAMETER = "group"
GROUP_BY_RULE = "rule"
QUEUE_SCOPE = "queue"
QUEUE_DEFAULT_SORT = "sla"


def _filtered(request, params: QueryDict) -> FindingFilter:
    if params.get("scope") == QUEUE_SCOPE:
        queryset = selectors.my_queue(team=request.team, user=request.user)
    else:
        queryset = selectors.findings_for_team(team=request.team)
    return FindingFilter(
        params,
        queryset=queryset,
        team=request.team,
        user=request.user,
    )


def _filter_params(params: QueryDict, *, queue: bool = False) -> QueryDict:
    """The filters and sort of a URL, without its position in the list; in the queue, with
    its scope and its default sort (SLA due, soonest first)."""
    kept = params.copy()
    for name in (*NON_FILTER_PARAMETERS, "scope"):
        kept.pop(name, None)
    if queue:
        kept["scope"] = QUEUE_SCOPE
        kept.setdefault("sort", QUEUE_DEFAULT_SORT)
    return kept


def _repository_options(filterset: FindingFilter, selected: int | None) -> str:
    return select_options(filterset.choices.repositories, selected)


FORM_LISTS = ("severity", "status")


def _form_values(params: QueryDict) -> dict:
    """The filter inputs as submitted, read once (bound fields are costly in a loop)."""
    return {
        name: params.getlist(name) if name in FORM_LISTS else params.get(name, "")
        for name in FindingFilter.base_filters
    }


def _page_of(
    request,
    sla_days: dict[str, int] | None = None,
    query: QueryDict | None = None,
    *,
    queue: bool = False,
) -> tuple[selectors.FindingsPage, FindingFilter]:
    """The page of findings the URL's filters, sort and cursor point at (or ``query``'s)."""
    query = request.GET if query is None else query
    params = _filter_params(query, queue=queue)
    count = None
    if queue:
        # The queue's filters over the open findings, then its scope: the same rows as the
        # scoped FilterSet's, and the filtered open findings count the queue by its indexes.
        filterset = FindingFilter(
            params,
            queryset=selectors.findings_for_team(team=request.team).unresolved(),
            team=request.team,
            user=request.user,
        )
        squad_ids = filterset.choices.user_squad_ids
        queryset = selectors.mine(
            filterset.qs, team=request.team, user=request.user, squad_ids=squad_ids
        )
        count = selectors.mine_count(
            filterset.qs,
            user=request.user,
            squad_ids=squad_ids,
            limit=selectors.COUNT_LIMIT + 1,
        )
    else:
        filterset = _filtered(request, params)
        # A filter whose value the form refused is left out (the page says which).
        queryset = filterset.qs
    page = selectors.findings_page(
        queryset=queryset,
        sort_key=selectors.sort_of(params.get("sort")),
        cursor=query.get("cursor"),
        page_size=selectors.PAGE_SIZE,
        sla_days=sla_days,
        count=count,
    )
    return page, filterset


def owner_filter_context(request, filterset: FindingFilter, *, can_triage: bool) -> dict:
    """The owner, squad and assigned filters' choices and the assignees, in one read of the
    team's members (the list and the grouped page show the same filters)."""
    choices = filterset.choices
    chosen = filterset.form.cleaned_data
    return {
        "squad_options": select_options(choices.squads, chosen.get("squad")),
        "owner_options": select_options(choices.owners, chosen.get("owner")),
        "assigned_choices": ASSIGNED_CHOICES,
        "assignable_options": (
            select_options(ownership_selectors.assignable_of(choices.members)) if can_triage else ""
        ),
    }


def _list_context(request, query: QueryDict | None = None, *, queue: bool = False) -> dict:
    """The table's context for the URL's query string (or ``query``, after a POST); in the
    queue, scoped to it."""
    query = request.GET if query is None else query
    params = _filter_params(query, queue=queue)
    sla_days = sla_policy_of(request.team).days
    page, filterset = _page_of(request, sla_days, query, queue=queue)
    # A grouping other than by rule is answered with the table, and said so.
    ignored = (
        ignored_filters(filterset)
        + ignored_choice("grouping", query.get(GROUP_PARAMETER), (GROUP_BY_RULE,))
        + ignored_page_parameters(query)
    )
    sort_key = selectors.sort_of(params.get("sort"))
    can_triage = can(request, Role.TRIAGER)
    rows_html = decorate_rows(
        page.rows, team_slug=request.team.slug, sla_days=sla_days, can_triage=can_triage
    )
    sort_links = {}
    for column, key in SORTABLE_COLUMNS.items():
        # The first click sorts the natural way (most severe, oldest, newest, A to Z).
        next_key = f"-{key}" if sort_key == key else key
        direction = None
        if sort_key in (key, f"-{key}"):
            descending = selectors.SORTS[sort_key].descending
            direction = "descending" if descending else "ascending"
        sort_links[column] = {"query": _query(params, sort=next_key), "aria_sort": direction}
    filter_query = params.urlencode()
    batch = filterset.form.cleaned_data.get("batch")
    # Read once for the table's "data as of" and the page's stale-data notice.
    connections = sync_selectors.team_connections(team_id=request.team.pk)
    return {
        **owner_filter_context(request, filterset, can_triage=can_triage),
        "filter": filterset,
        "values": _form_values(params),
        "ignored_filters": ignored,
        "page": page,
        "rows_html": rows_html,
        "sort_key": sort_key,
        "sorts": selectors.SORTS,
        "sort_links": sort_links,
        "filter_query": filter_query,
        "is_filtered": bool(filterset.active_filters or ignored),
        "batch": batch,
        "repository_options": _repository_options(
            filterset, filterset.form.cleaned_data.get("repository")
        ),
        "next_query": _query(query, cursor=page.next_cursor) if page.next_cursor else "",
        "previous_query": (
            _query(query, cursor=page.previous_cursor) if page.previous_cursor else ""
        ),
        "first_query": filter_query,
        "count_query": query.urlencode(),
        "can_triage": can_triage,
        "assign_keys": ASSIGN_KEYS,
        "status_choices": FindingStatus.choices,
        "scan_type_choices": ScanType.choices,
        "status_keys": STATUS_KEYS,
        "status_key_list": _status_key_list(),
        "status_keys_json": json.dumps({key: status for status, key in STATUS_KEYS.items()}),
        "sort_label": selectors.SORTS[sort_key].label,
        "saved_views": selectors.saved_views_for(team=request.team, user=request.user),
        "saved_view_form": SavedViewForm(initial={"query": filter_query}),
        "synced_at": connections.synced_at,
        "has_connection": connections.exist,
        "mirror_staleness": connections.stale,
        "bulk_form": BulkStatusForm(initial={"filter_query": filter_query}),
        "dismissals_need_approval": dismissal_services.dismissals_need_approval(request.team),
        "nav_active": "findings",
    } | (_queue_context(request) if queue else {"list_url": _url("findings", request)})


# What the findings page reads from its URL besides its filters.
PAGE_PARAMETERS = ("sort", "cursor", "scope", GROUP_PARAMETER, "page")


def ignored_page_parameters(query: QueryDict) -> list[str]:
    """The sentences for a sort the page does not have and for parameters it does not know
    (the filters' own errors are ``ignored_filters``')."""
    sentences = ignored_parameters(query, {*FindingFilter.base_filters, *PAGE_PARAMETERS})
    sort = query.get("sort")
    if sort and sort not in selectors.SORTS:
        default = selectors.SORTS[selectors.DEFAULT_SORT].label.lower()
        sentences.append(f"Ignored the sort {shown(sort)}: sorted by {default} instead.")
    return sentences


def _url(name: str, request) -> str:
    return reverse(name, kwargs={"team_slug": request.team.slug})


def _queue_context(request) -> dict:
    """What the queue changes on the page: its heading and its URLs."""
    return {
        "queue": True,
        "list_url": _url("my-queue", request),
        "count_url": _url("my-queue-count", request),
        "nav_active": "my-queue",
    }


def _list_page(request, *, queue: bool = False):
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    context = _list_context(request, queue=queue)
    return render_page(request, "triage/findings/list.html", context, partial="findings-page")


def _count_fragment(request, *, queue: bool = False):
    page, _ = _page_of(request, queue=queue)
    context = {"page": page, "count_query": request.GET.urlencode()}
    if queue:
        context["count_url"] = _url("my-queue-count", request)
    return render_fragment(request, "triage/findings/list.html", "findings-count", context)


def list_page(request):
    """The triage table over the mirror (``triage.views.finding_groups.findings`` answers the
    findings URL: the table, or the table grouped by rule)."""
    return _list_page(request)


@team_view(read=Role.VIEWER)
@fragment_only("findings")
def findings_count(request):
    """The count of the table's filters, fetched again when findings change."""
    return _count_fragment(request)


@team_view(read=Role.VIEWER, write=Role.TRIAGER)
def my_queue(request):
    """My queue: this page over the open findings assigned to the user or their squads,
    soonest SLA due first, with the same filters and bulk actions (read-only for viewers)."""
    return _list_page(request, queue=True)


@team_view(read=Role.VIEWER)
@fragment_only("my-queue")
def my_queue_count(request):
    return _count_fragment(request, queue=True)


@team_view(read=Role.VIEWER)
@fragment_only("my-queue")
def my_queue_badge(request):
    """The count beside "My queue" in the navigation: one bounded, indexed query."""
    count = selectors.my_queue_count(team_id=request.team.pk, user=request.user.pk)
    context = {"my_queue_count": selectors.queue_count_label(count)}
    return render_fragment(request, "base.html", "my-queue-badge", context)


def _selected_queryset(request, form: FindingSelectionForm):
    """The team's findings a selection form names: its ticked ids, or all matching its
    filters."""
    if form.cleaned_data["all_matching"]:
        filterset = _filtered(request, QueryDict(form.cleaned_data["filter_query"]))
        if not filterset.is_valid():
            raise ServiceError("The filters of this page are not valid any more.")
        return filterset.qs
    return selectors.findings_for_team(team=request.team).filter(
        pk__in=form.cleaned_data["finding"]
    )


@team_view(read=Role.TRIAGER, write=Role.TRIAGER)
def findings_bulk(request):
    """Preview (htmx) or start a bulk status change of the selected findings.

    The selection form posts ``finding`` ids (and ``all_matching`` with ``filter_query``):
    other actions on the selection, such as starting a fix, post the same form to their own
    URL with ``formaction``.
    """
    list_url = reverse("findings", kwargs={"team_slug": request.team.slug})
    if request.method != "POST":
        return redirect(list_url)
    form = BulkStatusForm(request.POST)
    back = f"{_back_url(request, list_url)}?{request.POST.get('filter_query', '')}"
    action = request.POST.get("action", "submit")
    if not form.is_valid():
        errors = [e for field in form.errors.values() for e in field]
        if is_fragment(request):
            return render_fragment(
                request, "triage/findings/list.html", "bulk-preview", {"preview_errors": errors}
            )
        for error in errors:
            messages.error(request, error)
        return redirect_after_post(request, back)
    try:
        queryset = _selected_queryset(request, form)
        if action == "preview":
            return _bulk_preview(request, queryset=queryset, status=form.cleaned_data["status"])
        change = status_changes.findings_status_change(
            team=request.team,
            actor=request.user,
            finding_ids=queryset.values_list("pk", flat=True),
            status=form.cleaned_data["status"],
            comment=form.cleaned_data["comment"],
            reason=form.cleaned_data["reason"],
            expires_on=form.cleaned_data["expires_on"],
            filter_query=form.cleaned_data["filter_query"],
        )
    except ServiceError as exc:
        if is_fragment(request):
            return render_fragment(
                request,
                "triage/findings/list.html",
                "bulk-preview",
                {"preview_errors": [exc.message]},
            )
        messages.error(request, exc.message)
        return redirect_after_post(request, back)
    return _bulk_started(request, change)


def _back_url(request, list_url: str) -> str:
    """The page a selection was posted from: the queue's scope rides in its filters (and
    htmx names the page)."""
    queue_url = _url("my-queue", request)
    current = request.htmx.current_url_abs_path if is_htmx(request) else None
    from_queue = bool(current) and current.partition("?")[0] == queue_url
    if from_queue or QueryDict(request.POST.get("filter_query", "")).get("scope") == QUEUE_SCOPE:
        return queue_url
    return list_url


def _bulk_preview(request, *, queryset, status: str):
    """How many of the selection the change would change, and how many have it already."""
    will_change, already = selectors.status_counts_for(queryset=queryset, status=status)
    return render_fragment(
        request,
        "triage/findings/list.html",
        "bulk-preview",
        {
            "will_change": will_change,
            "already": already,
            "status_label": label_of(FindingStatus, status),
            "previewed": True,
        },
    )


def _bulk_started(request, change: status_changes.StatusChange):
    """On to the dismissal request that now waits for a decision, or to the status job."""
    if change.dismissal is not None:
        messages.success(request, _sent_for_approval(change.dismissal))
        url = reverse(
            "approvals-dismissal",
            kwargs={"team_slug": request.team.slug, "dismissal_id": change.dismissal.pk},
        )
    else:
        url = reverse(
            "findings-job", kwargs={"team_slug": request.team.slug, "job_id": change.job.pk}
        )
    return redirect_after_post(request, url)


def _sent_for_approval(dismissal) -> str:
    label = dismissal.get_requested_status_display()
    count = f"{dismissal.total} finding{'s' if dismissal.total != 1 else ''}"
    message = f"Sent for approval: {count} to be set to {label} once an approver agrees."
    if getattr(dismissal, "skipped", 0):
        message += f" {dismissal.skipped} already waiting for a decision were left out."
    return message


@team_view(read=ownership_services.ASSIGN_ROLE, write=ownership_services.ASSIGN_ROLE)
def findings_assign(request):
    """Assign the selected findings (the selection form of ``findings_bulk``) to a member,
    to oneself (``action=claim``), or give them back to their rules (``action=unassign``).

    htmx posts from the findings table (``hx-target="#findings-page"``) are answered with
    the table again; any other post goes back to the findings it selected.
    """
    list_url = reverse("findings", kwargs={"team_slug": request.team.slug})
    if request.method != "POST":
        return redirect(list_url)
    form = AssignSelectionForm(request.POST)
    try:
        if not form.is_valid():
            raise ServiceError(" ".join(e for field in form.errors.values() for e in field))
        assignee = form.cleaned_data["assignee"]
        done = ownership_services.findings_assign(
            team=request.team,
            actor=request.user,
            finding_ids=_selected_queryset(request, form).values_list("pk", flat=True),
            assignee_id=request.user.pk if assignee == "me" else assignee,
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        level = messages.SUCCESS if done.changed else messages.INFO
        messages.add_message(request, level, _assigned_message(done, to_me=assignee == "me"))
    query = _table_query(request)
    back = _back_url(request, list_url)
    if is_fragment(request) and request.htmx.target == "findings-page":
        return render_fragment(
            request,
            "triage/findings/list.html",
            "findings-page",
            _list_context(request, query, queue=back != list_url),
            events=(Event.FINDINGS_CHANGED,),
        )
    return send_events(
        redirect_after_post(request, f"{back}?{query.urlencode()}"), Event.FINDINGS_CHANGED
    )


def _table_query(request) -> QueryDict:
    """The findings table's query string to show after a POST: the page the browser shows
    (htmx says which), else the filters the selection was made with."""
    pages = (_url("findings", request), _url("my-queue", request))
    current = request.htmx.current_url_abs_path if is_htmx(request) else None
    if current:
        path, _, query = current.partition("?")
        if path in pages:
            return QueryDict(query)
    return _filter_params(QueryDict(request.POST.get("filter_query", "")))


def _assigned_message(done: ownership_services.BulkAssignment, *, to_me: bool) -> str:
    """What a bulk assignment did, in words: "Assigned 12 findings to tess. 3 already were." """
    unchanged = done.unchanged
    were = "was" if unchanged == 1 else "were"
    if done.assignee:
        who = "you" if to_me else done.assignee
        if not done.changed:
            return f"Nothing changed: {_findings(unchanged)} already {were} assigned to {who}."
        message = f"Assigned {_findings(done.changed)} to {who}."
        return f"{message} {unchanged} already {were}." if unchanged else message
    if not done.changed:
        return "Nothing changed: none of the selected findings was assigned by hand."
    message = f"Unassigned {_findings(done.changed)}: the ownership rules decide their owner again."
    return f"{message} {unchanged} {were} not assigned by hand." if unchanged else message


def _findings(count: int) -> str:
    return f"{count:,} finding{'s' if count != 1 else ''}"


@team_view(read=Role.VIEWER, write=Role.TRIAGER)
def status_jobs(request):
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    return render(
        request,
        "triage/findings/jobs.html",
        {"jobs": selectors.status_jobs_for(team=request.team)[:100], "nav_active": "findings"},
    )


@team_view(read=Role.VIEWER, write=Role.TRIAGER)
def status_job(request, job_id: int):
    """A bulk status job: live progress while it runs, then the outcome and its actions."""
    job = selectors.status_job_detail(team=request.team, job_id=job_id)
    if job is None:
        raise Http404("No such job")
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "retry":
                job = services.finding_status_job_retry_failed(job=job, actor=request.user)
                messages.success(request, "The failed findings are being sent again.")
            elif action == "undo":
                job = services.finding_status_job_undo(job=job, actor=request.user)
                messages.success(request, "Undoing: each finding goes back to its status.")
            else:
                messages.error(request, "Unknown action.")
        except ServiceError as exc:
            messages.error(request, exc.message)
        return redirect_after_post(
            request, "findings-job", team_slug=request.team.slug, job_id=job.pk
        )
    failures = job.items.filter(outcome=FindingStatusJobItem.Outcome.FAILED).select_related(
        "finding"
    )[:500]
    context = {
        "job": job,
        "failures": failures,
        "can_triage": can(request, Role.TRIAGER),
        "undone_by": job.undone_by.first(),
        "status_labels": dict(FindingStatus.choices),
        "findings_url": reverse("findings", kwargs={"team_slug": request.team.slug}),
        "nav_active": "findings",
    }
    # The last answer of the polling tells the page's other fragments the findings changed.
    return render_page(
        request,
        "triage/findings/job.html",
        context,
        partial="job-progress",
        stop_polling=not job.is_active,
        events=() if job.is_active else (Event.FINDINGS_CHANGED,),
    )


@team_view(read=Role.VIEWER, write=Role.VIEWER)
def saved_views(request):
    """Save the current filters under a name (a personal menu entry; no Kolega write)."""
    list_url = reverse("findings", kwargs={"team_slug": request.team.slug})
    if request.method != "POST":
        return redirect(list_url)
    form = SavedViewForm(request.POST)
    query = request.POST.get("query", "")
    if form.is_valid():
        try:
            view = services.saved_view_create(
                team=request.team,
                user=request.user,
                name=form.cleaned_data["name"],
                query=form.cleaned_data["query"],
            )
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Saved the view “{view.name}”.")
            query = view.query
    else:
        messages.error(request, "Give the view a name.")
    return redirect(f"{list_url}?{query}" if query else list_url)


@team_view(read=Role.VIEWER, write=Role.VIEWER)
def saved_view(request, view_id: int):
    views = selectors.saved_views_for(team=request.team, user=request.user)
    view = views.filter(pk=view_id).first()
    if view is None:
        raise Http404("No such saved view")
    list_url = reverse("findings", kwargs={"team_slug": request.team.slug})
    if request.method == "POST":
        services.saved_view_delete(team=request.team, user=request.user, view_id=view.pk)
        messages.success(request, f"Deleted the view “{view.name}”.")
        return redirect_after_post(request, list_url)
    return redirect(f"{list_url}?{view.query}" if view.query else list_url)


urlpatterns = [
    path("count/", findings_count, name="findings-count"),
    path("bulk/", findings_bulk, name="findings-bulk"),
    path("assign/", findings_assign, name="findings-assign"),
    path("jobs/", status_jobs, name="findings-jobs"),
    path("jobs/<int:job_id>/", status_job, name="findings-job"),
    path("views/", saved_views, name="findings-views"),
    path("views/<int:view_id>/", saved_view, name="findings-view"),
]
queue_urlpatterns = [
    path("", my_queue, name="my-queue"),
    path("count/", my_queue_count, name="my-queue-count"),
    path("badge/", my_queue_badge, name="my-queue-badge"),
]
