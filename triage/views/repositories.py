"""Repositories: the team's list with its counts, and one repository's page (open findings
by severity, SLA, scan coverage, last scans, fixes and pull requests)."""

from django.http import Http404
from django.urls import path
from django.views.decorators.http import require_safe

from triage.filters.repositories import RepositoryFilter
from triage.forms.ids import pk_of
from triage.models import Role
from triage.permissions import team_view
from triage.selectors import repositories as selectors
from triage.selectors import sync as sync_selectors
from triage.views.htmx import render_page
from triage.views.list_filters import list_page

PAGE_SIZE = 50


@team_view(read=Role.VIEWER)
@require_safe
def repositories(request):
    """The team's repositories with their open findings, SLA, last scan, fixes and pull
    requests; filtered by name, sorted by any count."""
    repository_filter = RepositoryFilter(
        request.GET or None, queryset=selectors.repositories_for_team(team=request.team)
    )
    rows = selectors.repository_rows(
        team=request.team, repositories=repository_filter.qs, sort=repository_filter.order
    )
    return list_page(
        request,
        repository_filter,
        "triage/repositories/list.html#repositories-table",
        per_page=PAGE_SIZE,
        rows=rows,
        context={
            "data_as_of": sync_selectors.team_last_synced_at(team=request.team),
            "nav_active": "repositories",
        },
    )


@team_view(read=Role.VIEWER)
@require_safe
def repository_detail(request, repository_id: int):
    try:
        repository_pk = pk_of(repository_id)
    except (TypeError, ValueError):
        raise Http404("No such repository") from None
    repository = selectors.repository_for_team(team=request.team, repository_id=repository_pk)
    if repository is None:
        raise Http404("No such repository")
    context = {
        "repository": repository,
        "overview": selectors.repository_overview(team=request.team, repository=repository),
        "data_as_of": sync_selectors.team_last_synced_at(team=request.team),
        "nav_active": "repositories",
    }
    return render_page(request, "triage/repositories/detail.html", context)


urlpatterns = [
    path("", repositories, name="repositories"),
    path("<int:repository_id>/", repository_detail, name="repositories-detail"),
]
