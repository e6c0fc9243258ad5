"""The findings page grouped by rule (``?group=rule``): one row per ``check_id`` across the
team's repositories, with the page's own filters, and a fragment with a rule's findings.

The findings view hands ``?group=rule`` to ``rule_groups_page``; every other state (filters,
sort, saved views) is the findings page's own, kept in the query string. A group's actions
post the findings page's selection contract (``all_matching=1`` with ``filter_query`` = the
page's filters plus ``check_id``) to the existing endpoints, so a status change of a whole rule
goes through the same preview, job and dismissal approval as any bulk change.
"""

import re

from django.http import QueryDict
from django.urls import path, reverse

from triage.models import FindingStatus, Role, ScanType
from triage.permissions import can, team_view
from triage.selectors import finding_groups as group_selectors
from triage.selectors import findings as selectors
from triage.selectors.reports.scope import sla_policy_of
from triage.services import dismissals as dismissal_services
from triage.views.finding_rows import decorate_rows
from triage.views.findings import (
    GROUP_BY_RULE,
    GROUP_PARAMETER,
    _filter_params,
    _filtered,
    _form_values,
    _query,
    _repository_options,
    ignored_page_parameters,
    list_page,
    owner_filter_context,
)
from triage.views.htmx import fragment_only, render_fragment, render_page
from triage.views.list_filters import ignored_filters
from triage.views.options import select_options

# Parameters of the grouped page that are not filters: where a group action or the link to a
# rule's findings leads, they are left out.
GROUP_PAGE_PARAMETERS = (GROUP_PARAMETER, "page")
# The row a group's findings replace (htmx names it in HX-Target); anything else gets a default.
TARGET_ID = re.compile(r"group-\d{1,4}-findings")


def is_grouped(request) -> bool:
    return request.GET.get(GROUP_PARAMETER) == GROUP_BY_RULE


def _filters_only(params: QueryDict) -> QueryDict:
    """The filters and sort of the grouped page's URL, without the grouping or its page."""
    kept = _filter_params(params)
    for name in GROUP_PAGE_PARAMETERS:
        kept.pop(name, None)
    return kept


def _decorate_groups(groups, *, filters: QueryDict, team_slug: str) -> None:
    """Per group: the filters of its findings (the page's plus its ``check_id``), its link to
    the list and its fragment URL."""
    list_url = reverse("findings", kwargs={"team_slug": team_slug})
    rows_url = reverse("findings-group-findings", kwargs={"team_slug": team_slug})
    for index, group in enumerate(groups, start=1):
        query = _query(filters, check_id=group.check_id)
        group.filter_query = query
        group.list_url = f"{list_url}?{query}"
        group.rows_url = f"{rows_url}?{query}"
        group.key = index


@team_view(read=Role.VIEWER, write=Role.TRIAGER)
def findings(request):
    """The findings page: the triage table, or with ``?group=rule`` the table grouped by rule
    (grouping builds on the table's helpers, so the URL is answered here)."""
    if request.method == "GET" and is_grouped(request):
        return rule_groups_page(request)
    return list_page(request)


def rule_groups_page(request):
    """The findings page grouped by rule (the findings view calls this for ``?group=rule``)."""
    filters = _filters_only(request.GET)
    filterset = _filtered(request, filters)
    ignored = ignored_filters(filterset) + ignored_page_parameters(request.GET)
    sort_key = selectors.sort_of(filters.get("sort"))
    page = group_selectors.rule_groups_page(filterset.qs, number=request.GET.get("page"))
    _decorate_groups(page.object_list, filters=filters, team_slug=request.team.slug)
    filter_query = filters.urlencode()
    grouped_query = _query(filters, **{GROUP_PARAMETER: GROUP_BY_RULE})
    can_triage = can(request, Role.TRIAGER)
    context = {
        **owner_filter_context(request, filterset, can_triage=can_triage),
        "group": GROUP_BY_RULE,
        "list_url": reverse("findings", kwargs={"team_slug": request.team.slug}),
        "filter": filterset,
        "values": _form_values(filters),
        "ignored_filters": ignored,
        "is_filtered": bool(filterset.active_filters or ignored),
        "batch": filterset.form.cleaned_data.get("batch"),
        "repository_options": _repository_options(
            filterset, filterset.form.cleaned_data.get("repository")
        ),
        "sort_key": sort_key,
        "page": page,
        # The pager's links and a saved view keep the grouping; the toggle leaves it out.
        "query": grouped_query,
        "filter_query": grouped_query,
        "list_query": filter_query,
        "clear_query": _query(QueryDict(), sort=sort_key, **{GROUP_PARAMETER: GROUP_BY_RULE}),
        "can_triage": can_triage,
        "status_choices": FindingStatus.choices,
        "scan_type_choices": ScanType.choices,
        "saved_views": selectors.saved_views_for(team=request.team, user=request.user),
        "dismissals_need_approval": dismissal_services.dismissals_need_approval(request.team),
        "nav_active": "findings",
        # Read once, not in each group's form (fifty groups a page).
        "status_options": select_options(FindingStatus.choices),
        "bulk_url": reverse("findings-bulk", kwargs={"team_slug": request.team.slug}),
        "fix_url": reverse("fixes-new", kwargs={"team_slug": request.team.slug}),
        "campaign_url": reverse("campaigns-new", kwargs={"team_slug": request.team.slug}),
    }
    return render_page(request, "triage/findings/groups.html", context, partial="findings-page")


def _target_id(request) -> str:
    target = request.headers.get("HX-Target", "")
    return target if TARGET_ID.fullmatch(target) else "group-findings"


@team_view(read=Role.VIEWER)
@fragment_only("findings")
def group_findings(request):
    """The first findings of one rule (``check_id``) under the page's filters, shown inline
    when its group is opened."""
    filters = _filters_only(request.GET)
    filterset = _filtered(request, filters)
    # Like the page, a filter the form refused is left out and named; the others apply.
    filterset.is_valid()
    check_id = filterset.form.cleaned_data.get("check_id")
    page = None
    if check_id:
        sla_days = sla_policy_of(request.team).days
        page = selectors.findings_page(
            queryset=filterset.qs,
            sort_key=selectors.sort_of(filters.get("sort")),
            cursor=None,
            page_size=group_selectors.GROUP_FINDINGS_PAGE_SIZE,
            sla_days=sla_days,
        )
        # The rows are for reading here: the actions are the group's own.
        decorate_rows(page.rows, team_slug=request.team.slug, sla_days=sla_days, can_triage=False)
    list_url = reverse("findings", kwargs={"team_slug": request.team.slug})
    return render_fragment(
        request,
        "triage/findings/groups.html",
        "group-findings",
        {
            "page": page,
            "list_url": f"{list_url}?{filters.urlencode()}",
            "ignored_filters": ignored_filters(filterset),
            "target_id": _target_id(request),
            # The rows are for reading here: the actions are the group's own.
            "can_triage": False,
        },
    )


urlpatterns = [
    path("", findings, name="findings"),
    path("rules/findings/", group_findings, name="findings-group-findings"),
]
