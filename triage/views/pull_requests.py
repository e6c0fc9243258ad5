"""Pull requests: every pull request opened from a fix, with its merge status, filtered by
repository, merge status and when it was opened."""

from django.core.paginator import Paginator
from django.urls import path
from django.views.decorators.http import require_safe

from triage.filters.pull_requests import PullRequestFilter
from triage.models import Role
from triage.permissions import team_view
from triage.selectors import pull_requests as selectors
from triage.selectors import sync as sync_selectors
from triage.views.htmx import render_page
from triage.views.list_filters import ignored_filters

PAGE_SIZE = 50


@team_view(read=Role.VIEWER)
@require_safe
def pull_requests(request):
    pr_filter = PullRequestFilter(
        request.GET or None,
        queryset=selectors.pull_requests_for_team(team=request.team),
        team=request.team,
    )
    page = Paginator(pr_filter.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    openers = selectors.pull_request_openers(list(page.object_list))
    for pull_request in page.object_list:
        pull_request.opened_by = openers.get(pull_request.fix_id, "")
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "filter": pr_filter,
        "ignored_filters": ignored_filters(pr_filter),
        "is_filtered": pr_filter.is_filtered,
        "page": page,
        "query": query.urlencode(),
        "data_as_of": sync_selectors.team_last_synced_at(team=request.team),
        "nav_active": "pull-requests",
    }
    return render_page(
        request, "triage/pull_requests/list.html", context, partial="pull-requests-table"
    )


urlpatterns = [path("", pull_requests, name="pull-requests")]
