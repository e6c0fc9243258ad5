"""The pull-requests page: every pull request opened from a fix, its merge status, repository,
fix and who asked for it, filtered by repository, merge status and date, paginated."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import FixFactory, PullRequestFactory, RepositoryFactory
from tests.pages import HTMX, team_url
from triage.models import AuditEvent, Role
from triage.views.pull_requests import PAGE_SIZE

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(member, client_as):
    return client_as(member(Role.VIEWER))


def _url(team) -> str:
    return team_url("pull-requests", team)


def test_each_pull_request_shows_its_status_repository_fix_and_opener(team, member, viewer):
    repository = RepositoryFactory(team=team, name="payments-api")
    fix = FixFactory(repository=repository, title="Parameterise the query", source_repo="acme/pay")
    PullRequestFactory(fix=fix, pr_number=7, merge_status="merged")
    requester = member(Role.TRIAGER, username="tess")
    AuditEvent.objects.create(
        team=team,
        actor=requester,
        actor_label="tess",
        action="pull_requests.open_requested",
        target_type="fix",
        target_id=str(fix.pk),
    )

    body = viewer.get(_url(team)).content.decode()

    assert 'href="https://github.com/acme/pay/pull/7"' in body
    assert "Merged</span>" in body and ">merged<" not in body
    assert f'href="/t/{team.slug}/repositories/{repository.pk}/"' in body
    assert f'href="/t/{team.slug}/fixes/{fix.pk}/">Parameterise the query' in body
    assert "<td>tess</td>" in body


def test_filters_by_repository_merge_status_and_date(team, viewer):
    payments = RepositoryFactory(team=team, name="payments-api")
    web = RepositoryFactory(team=team, name="web-frontend")
    now = timezone.now()
    PullRequestFactory(fix=FixFactory(repository=payments), pr_number=1, merge_status="open")
    PullRequestFactory(fix=FixFactory(repository=payments), pr_number=2, merge_status="MERGED")
    PullRequestFactory(
        fix=FixFactory(repository=web),
        pr_number=3,
        merge_status="open",
        created_at=now - timedelta(days=30),
    )

    def numbers(params, **extra):
        body = viewer.get(_url(team), params, **extra).content.decode()
        return {n for n in (1, 2, 3) if f'/pull/{n}"' in body}

    assert numbers({}) == {1, 2, 3}
    assert numbers({"repository": payments.pk}) == {1, 2}
    assert numbers({"merge_status": "merged"}) == {2}
    assert numbers({"merge_status": "open", "repository": web.pk}) == {3}
    yesterday = (now - timedelta(days=1)).date().isoformat()
    assert numbers({"opened_after": yesterday}) == {1, 2}
    assert numbers({"opened_before": (now - timedelta(days=20)).date().isoformat()}) == {3}
    assert numbers({"opened_before": "9999-12-31", "opened_after": "0001-01-01"}) == {1, 2, 3}
    fragment = viewer.get(_url(team), {"merge_status": "merged"}, **HTMX).content.decode()
    assert "<html" not in fragment and 'id="pull-requests-table"' in fragment


def test_an_unknown_merge_status_is_ignored_and_said(team, viewer):
    PullRequestFactory(fix=FixFactory(repository=RepositoryFactory(team=team)), pr_number=5)

    body = viewer.get(_url(team), {"merge_status": "nope"}).content.decode()

    assert "Ignored the filter Merge status: “nope” is not one of the choices." in body
    assert '/pull/5"' in body


def test_another_teams_repository_is_not_a_filter_and_its_pull_requests_never_show(
    team, other_team, viewer
):
    foreign = RepositoryFactory(team=other_team)
    PullRequestFactory(fix=FixFactory(repository=foreign), pr_number=66)

    body = viewer.get(_url(team), {"repository": foreign.pk}).content.decode()

    assert '/pull/66"' not in body
    assert "Ignored the filter Repository:" in body


def test_the_list_is_paginated_in_a_bounded_number_of_queries(
    team, viewer, django_assert_max_num_queries
):
    repository = RepositoryFactory(team=team)
    for _ in range(PAGE_SIZE + 3):
        PullRequestFactory(fix=FixFactory(repository=repository))

    with django_assert_max_num_queries(14):
        first = viewer.get(_url(team))
    second = viewer.get(_url(team), {"page": 2}).content.decode()

    assert first.content.decode().count("data-pull-request>") == PAGE_SIZE
    assert second.count("data-pull-request>") == 3


def test_the_nav_links_both_new_pages(team, viewer):
    body = viewer.get(_url(team)).content.decode()

    assert 'aria-current="page">Pull requests' in body
    assert f'href="/t/{team.slug}/repositories/"' in body
