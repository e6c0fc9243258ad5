"""Pull requests: every pull request opened from a fix, with its merge status, filtered by
repository, merge status and when it was opened."""

from django.urls import path
from django.views.decorators.http import require_safe

from triage.filters.pull_requests import PullRequestFilter
from triage.models import Role
from triage.permissions import team_view
from triage.selectors import pull_requests as selectors
from triage.selectors import sync as sync_selectors
from triage.views.list_filters import list_page

PAGE_SIZE = 50


@team_view(read=Role.VIEWER)
@require_safe
def pull_requests(request):
    pr_filter = PullRequestFilter(
        request.GET or None,
        queryset=selectors.pull_requests_for_team(team=request.team),
        team=request.team,
    )
    return list_page(
        request,
        pr_filter,
        "triage/pull_requests/list.html#pull-requests-table",
        per_page=PAGE_SIZE,
        decorate=_with_openers,
        context={
            "data_as_of": sync_selectors.team_last_synced_at(team=request.team),
            "nav_active": "pull-requests",
        },
    )


def _with_openers(pull_requests: list) -> None:
    openers = selectors.pull_request_openers(list(pull_requests))
    for pull_request in pull_requests:
        pull_request.opened_by = openers.get(pull_request.fix_id, "")


urlpatterns = [path("", pull_requests, name="pull-requests")]
