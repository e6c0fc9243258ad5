"""A launched campaign through review to merged: the review queue in campaign order, approvals
bound to each diff (voided by a refine), pull requests opened once under repeated clicks, and
merged and closed pull requests moving the progress after a sync."""

import pytest
from django.utils import timezone

from sandbox.models import PullRequest as UpstreamPullRequest
from tests.pages import team_url
from tests.triage.campaigns.conftest import approved_fix, fixes_of
from triage.models import CampaignRepository, FixApproval, PullRequestOpening
from triage.selectors import campaigns as selectors
from triage.services import campaigns as services
from triage.services import fixes as fix_services
from triage.services.approvals import pull_request_opening_send
from triage.sync import sync_connection_incremental

pytestmark = pytest.mark.django_db


def test_the_review_queue_walks_the_completed_diffs_in_campaign_order(
    launched, triager, approver, django_capture_on_commit_callbacks
):
    fixes = fixes_of(launched)
    assert all(fix.status == "completed" and fix.diff for fix in fixes)
    assert selectors.campaign_review_queue(campaign=launched) == [fix.pk for fix in fixes]
    first = selectors.campaign_review_next(campaign=launched, after_fix_id=None)
    assert first == fixes[0].pk
    assert selectors.campaign_review_next(campaign=launched, after_fix_id=first) == fixes[1].pk
    approved_fix(fixes[0], triager, approver, django_capture_on_commit_callbacks)
    # An approved diff leaves the queue.
    assert fixes[0].pk not in selectors.campaign_review_queue(campaign=launched)


def test_a_refine_voids_the_approval_of_a_campaign_fix(
    launched, triager, approver, django_capture_on_commit_callbacks
):
    fix = fixes_of(launched)[0]
    approved_fix(fix, triager, approver, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks():
        fix_services.fix_refine(fix=fix, actor=triager, instructions="Also add a test.")
    assert not FixApproval.objects.filter(fix=fix, status="approved").exists()
    assert FixApproval.objects.filter(fix=fix, status="voided").exists()
    overview = selectors.campaign_overview(campaign=launched)
    assert overview.approved == 0


def test_pull_requests_are_opened_once_under_ten_clicks(
    launched,
    triager,
    approver,
    client_as,
    queued,
    demo_org,
    team,
    django_capture_on_commit_callbacks,
):
    fixes = fixes_of(launched)[:2]
    for fix in fixes:
        approved_fix(fix, triager, approver, django_capture_on_commit_callbacks)
    client = client_as(triager)
    url = team_url("campaigns-detail", team, campaign_id=launched.pk)
    for _ in range(10):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, {"action": "open_pull_requests"})
        assert response.status_code == 302
    openings = PullRequestOpening.objects.filter(fix__in=fixes)
    assert openings.count() == 2
    assert sorted(set(queued)) == sorted(openings.values_list("pk", flat=True))
    for opening_id in queued:  # every queued message runs, duplicates included
        pull_request_opening_send(opening_id=opening_id)
    for fix in fixes:
        upstream = UpstreamPullRequest.objects.filter(fix_id=fix.upstream_id)
        assert upstream.count() == 1, "one pull request per fix, whatever was clicked"
    assert set(openings.values_list("status", flat=True)) == {"opened"}
    overview = selectors.campaign_overview(campaign=launched)
    assert {r.stage for r in overview.rows if r.row.fix_id in {f.pk for f in fixes}} == {"pr_open"}


def test_a_merged_and_a_closed_pull_request_move_progress_and_burndown_after_a_sync(
    launched,
    triager,
    approver,
    queued,
    connection,
    sandbox_clock,
    sandbox_control,
    django_capture_on_commit_callbacks,
):
    merged_fix, closed_fix = fixes_of(launched)[:2]
    for fix in (merged_fix, closed_fix):
        approved_fix(fix, triager, approver, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_pull_requests_open(campaign=launched, actor=triager)
    for opening_id in queued:
        pull_request_opening_send(opening_id=opening_id)
    before = {stage: n for stage, _, n in selectors.campaign_overview(campaign=launched).progress}
    merged_row, closed_row = (
        CampaignRepository.objects.get(campaign=launched, fix=fix)
        for fix in (merged_fix, closed_fix)
    )
    merged_covered, closed_covered = merged_row.findings.count(), closed_row.findings.count()

    # Today as Kolega's clock has it: running the fixes moved the sandbox's clock on, past
    # midnight when the suite runs late in the day.
    def burndown():
        today = timezone.localdate(sandbox_clock.now())
        return selectors.campaign_burndown(campaign=launched, today=today)

    open_before = burndown().open_now

    # The sandbox merges one and closes the other, asked over HTTP as an operator would.
    sandbox_clock.advance(60)
    for action, fix in (("merge", merged_fix), ("close", closed_fix)):
        pr_url = UpstreamPullRequest.objects.get(fix_id=fix.upstream_id).pr_url
        assert sandbox_control(action, pr_url)["merge_status"] == f"{action}d"
    sandbox_clock.advance(60)
    sync_connection_incremental(connection=connection)

    overview = selectors.campaign_overview(campaign=launched)
    after = {stage: n for stage, _, n in overview.progress}
    rows = {r.row.pk: r for r in overview.rows}
    assert rows[merged_row.pk].stage == "merged" and rows[merged_row.pk].unresolved == 0
    # Closed without merging: the diff is back to review, its findings still open, and the
    # repository is listed as behind.
    assert rows[closed_row.pk].stage == "in_review"
    assert rows[closed_row.pk].unresolved == closed_covered
    assert [r.row.pk for r in overview.behind] == [closed_row.pk]
    assert after["pr_open"] == before["pr_open"] - merged_covered - closed_covered
    assert after["in_review"] == before["in_review"] + closed_covered
    assert after["resolved"] == before["resolved"] + merged_covered
    # The burndown counts the merged fix's findings resolved, the closed one's still open.
    assert burndown().open_now == open_before - merged_covered
    funnel = dict(overview.funnel)
    assert funnel["PR opened"] == merged_covered + closed_covered
    assert funnel["Merged"] == merged_covered
