"""A triager builds a campaign from a rule, launches it, reviews and refines a diff and asks
for approval of two; an approver approves both; the triager opens their pull requests from
the campaign; the sandbox merges one and, after a sync, the campaign shows it merged and its
findings resolved. A real worker starts and tracks the fixes and opens the pull requests."""

import time

import pytest
from django.db.models import Count
from django.urls import reverse

from tests.browser.journey import connect_demo_organization
from triage.models import Campaign, Finding, PullRequestOpening


def _until(check, *, seconds: float = 60, every: float = 0.5):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    raise AssertionError("timed out waiting")


def _completed_fix_page(page) -> None:
    """On a fix's page: wait until the worker has its diff (the heartbeat reloads the page)."""
    page.locator("details.diff-file").first.wait_for(timeout=90_000)


def _sign_in_as(page, sign_in, user) -> None:
    """Leave the page first, so none of its late requests (a diff file loading) goes out
    without a session, then sign in as ``user``."""
    page.goto("about:blank")
    page.context.clear_cookies()
    sign_in(page, user)


@pytest.mark.usefixtures("fast_tracking", "celery_worker_process")
def test_campaign_from_a_rule_to_a_merged_pull_request(
    browser_page, live_server, team, triager, approver, sign_in, shot
):
    from sandbox.models import PullRequest as UpstreamPullRequest
    from sandbox.services.fixes import pull_request_merge
    from triage.sync import sync_connection_incremental

    connection = connect_demo_organization(
        team, live_server, slug="acme-campaign", name="Acme Campaign"
    )
    rule = (
        Finding.objects.filter(team=team, status="open")
        .values("check_id")
        .annotate(repositories=Count("repository", distinct=True))
        .filter(repositories__gte=2)
        .order_by("-repositories", "check_id")
        .first()
    )
    assert rule, "the demo organization has a rule with open findings in two repositories"
    rule = rule["check_id"]

    page = browser_page
    sign_in(page, triager)
    findings_url = live_server.url + reverse("findings", kwargs={"team_slug": team.slug})
    page.goto(findings_url + "?group=rule")
    page.locator(f'[data-group-action][data-check-id="{rule}"]').click()
    page.get_by_role("button", name="New campaign for this rule…").click()
    page.get_by_label("Name").fill("Fix the rule everywhere")
    shot(page, "campaign-new")
    page.get_by_role("button", name="Create campaign").click()
    page.wait_for_url("**/campaigns/*/")
    campaign = Campaign.objects.get()
    assert campaign.filter_query == f"check_id={rule}" or f"check_id={rule}" in (
        campaign.filter_query.replace("%2F", "/")
    )
    page.locator("#quota-preview p").first.wait_for()
    shot(page, "campaign-plan")
    page.get_by_role("button", name="Launch").click()
    page.wait_for_load_state()

    # The worker starts one fix per repository and tracks each to its diff.
    def all_completed():
        rows = list(campaign.repositories.select_related("fix"))
        return len(rows) >= 2 and all(
            r.fix is not None and r.fix.status == "completed" and r.fix.diff for r in rows
        )

    _until(all_completed, seconds=120)
    page.reload()
    shot(page, "campaign-launched")

    # Review next: the first diff; refine it, then ask for approval of the new diff.
    page.locator("#campaign-review-next").click()
    _completed_fix_page(page)
    page.locator("summary", has_text="Refine with follow-up instructions").click()
    page.get_by_label("Follow-up instructions").fill("Also cover the error path.")
    page.get_by_role("button", name="Refine").click()
    page.wait_for_load_state()
    _completed_fix_page(page)
    page.locator("summary", has_text="Request approval").click()
    page.get_by_role("button", name="Request approval").click()
    page.wait_for_load_state()
    assert "Waiting for approval" in page.content()
    first_fix_url = page.url.split("?")[0]
    # And on to the campaign's next diff.
    page.locator("#fix-campaign a", has_text="Review next diff").click()
    _completed_fix_page(page)
    assert page.url.split("?")[0] != first_fix_url
    page.locator("summary", has_text="Request approval").click()
    page.get_by_role("button", name="Request approval").click()
    page.wait_for_load_state()
    second_fix_url = page.url.split("?")[0]

    _sign_in_as(page, sign_in, approver)
    for url in (first_fix_url, second_fix_url):
        page.goto(url)
        page.get_by_role("button", name="Approve").click()
        page.wait_for_load_state()

    _sign_in_as(page, sign_in, triager)
    campaign_url = live_server.url + reverse(
        "campaigns-detail", kwargs={"team_slug": team.slug, "campaign_id": campaign.pk}
    )
    page.goto(campaign_url)
    for _ in range(2):  # a second click opens nothing more
        page.get_by_role("button", name="Open pull requests for every approved fix").click()
        page.wait_for_load_state()
    _until(lambda: PullRequestOpening.objects.filter(status="opened").count() == 2, seconds=60)
    assert PullRequestOpening.objects.count() == 2
    page.reload()
    shot(page, "pull-requests-open")

    merged = UpstreamPullRequest.objects.order_by("pk").first()
    pull_request_merge(pull_request=merged)
    sync_connection_incremental(connection=connection)
    page.reload()
    assert "Merged" in page.locator("#campaign-fixes").inner_text()
    assert page.locator("#progress-resolved dd").inner_text() != "0"
    shot(page, "campaign-merged")
    assert page.console_errors == []
