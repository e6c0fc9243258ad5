"""Ten people clicking "Open pull requests for every approved fix" of one campaign at the same
moment (PostgreSQL row locks): each approved fix gets one opening and one pull request upstream."""

import pytest
from django.db import connection as db_connection

from sandbox.models import PullRequest as UpstreamPullRequest
from tests.concurrency import at_once
from tests.triage.campaigns.conftest import approved_fix, fixes_of
from triage.models import Campaign, PullRequestOpening
from triage.services import campaigns as services
from triage.services.approvals import pull_request_opening_send

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(db_connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
]

CALLERS = 10


def test_ten_concurrent_clicks_open_each_approved_fix_once(
    launched, triager, approver, queued, django_capture_on_commit_callbacks
):
    fixes = fixes_of(launched)[:2]
    for fix in fixes:
        approved_fix(fix, triager, approver, django_capture_on_commit_callbacks)
    PullRequestOpening.objects.filter(fix__in=fixes).delete()
    queued.clear()

    def click() -> int:
        campaign = Campaign.objects.select_related("team").get(pk=launched.pk)
        done = services.campaign_pull_requests_open(campaign=campaign, actor=triager)
        return sum(1 for outcome in done if outcome.done)

    at_once(click, callers=CALLERS)

    openings = PullRequestOpening.objects.filter(fix__in=fixes)
    assert openings.count() == len(fixes)
    assert sorted(set(queued)) == sorted(openings.values_list("pk", flat=True))
    for opening_id in queued:  # every queued message runs, duplicates included
        pull_request_opening_send(opening_id=opening_id)
    for fix in fixes:
        assert UpstreamPullRequest.objects.filter(fix_id=fix.upstream_id).count() == 1
