"""A triager starts a fix, follows it to completion, reviews the diff and asks for approval;
an approver approves; the pull request link appears. A real worker tracks the fix and opens
the pull request; the sandbox is served by the live server on a fast clock."""

import pytest
from django.urls import reverse

from tests.browser.journey import connect_demo_organization
from triage.models import Finding, PullRequestOpening


@pytest.mark.usefixtures("fast_tracking", "celery_worker_process")
def test_fix_review_approve_and_open_pull_request(
    browser_page, live_server, team, triager, approver, sign_in, shot
):
    connect_demo_organization(team, live_server, slug="acme-browser", name="Acme Browser")
    finding = (
        Finding.objects.filter(team=team, status="open", scan_type="semgrep_scan")
        .order_by("pk")
        .first()
    )

    page = browser_page
    sign_in(page, triager)
    page.goto(
        live_server.url
        + reverse("fixes-new", kwargs={"team_slug": team.slug})
        + f"?finding={finding.pk}"
    )
    page.get_by_role("button", name="Fix and add tests").click()
    shot(page, "start-fix")
    page.get_by_role("button", name="Start fix").click()
    page.wait_for_url("**/fixes/*/")
    shot(page, "running")

    # The heartbeat polls until the worker has mirrored the completed fix, then reloads.
    page.locator("details.diff-file").first.wait_for(timeout=60_000)
    page.locator("table.diff").first.wait_for(timeout=15_000)
    assert page.locator("table.diff .diff-add").count() > 0
    shot(page, "diff-review")
    page.get_by_role("link", name="Side by side").click()
    page.locator("table.diff-split").first.wait_for()
    shot(page, "side-by-side")
    page.locator("[data-viewed-toggle]").first.check()
    assert not page.locator("details.diff-file").first.evaluate("d => d.open")

    page.locator("summary", has_text="Request approval").click()
    page.get_by_label("Note for the approver").fill("Reviewed: parameterized query, tests pass.")
    page.get_by_label("Branch name").fill("security/fix-browser")
    page.get_by_role("button", name="Request approval").click()
    page.wait_for_load_state()
    assert "Waiting for approval" in page.content()
    shot(page, "approval-requested")
    fix_url = page.url.split("?")[0]

    page.context.clear_cookies()
    sign_in(page, approver)
    page.goto(live_server.url + reverse("approvals", kwargs={"team_slug": team.slug}))
    shot(page, "approvals-queue")
    page.locator("table a").first.click()
    page.get_by_label("Comment").first.fill("Looks right.")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_load_state()
    # By default approving leaves the fix approved; opening the pull requests is a step.
    assert page.url.split("?")[0] == fix_url
    assert not PullRequestOpening.objects.exists()
    page.get_by_role("button", name="Open pull requests").click()
    page.wait_for_load_state()

    # The approval card polls while the worker opens the pull request; the link appears.
    assert page.url.split("?")[0] == fix_url
    link = page.locator("#pull-requests a").first
    link.wait_for(timeout=60_000)
    assert "/pull/" in (link.get_attribute("href") or "")
    assert PullRequestOpening.objects.get().status == "opened"
    shot(page, "pull-request-opened")
    assert page.console_errors == []
