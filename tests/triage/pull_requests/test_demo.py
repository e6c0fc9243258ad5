"""The demo `make run` seeds: its pull requests reach the portal's pull-requests page through a
sync over HTTP, so the page is not empty on a first look."""

import pytest

from tests.connections import connect_and_sync
from tests.pages import team_url
from triage.models import PullRequest, Role

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_the_demos_pull_requests_show_after_a_sync(
    team, member, client_as, sandbox_transport, sandbox_clock
):
    from sandbox.services.seed import demo_organization_seed

    _, key, _ = demo_organization_seed(slug="acme-prs", name="Acme PRs", pull_requests=True)
    admin = member(Role.ADMIN)
    connect_and_sync(team=team, admin=admin, api_key=key)

    statuses = sorted(PullRequest.objects.filter(team=team).values_list("merge_status", flat=True))
    assert statuses == ["closed", "merged", "open", "open"]
    body = client_as(admin).get(team_url("pull-requests", team)).content.decode()
    assert body.count("data-pull-request>") == 4
    assert "Merged</span>" in body and "Closed</span>" in body
