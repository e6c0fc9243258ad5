"""A triager starts a fix, follows it to completion, reviews the diff and asks for approval;
an approver approves; the pull request link appears. A real worker tracks the fix and opens
the pull request; the sandbox is served by the live server on a fast clock."""

from django.urls import reverse

from triage.models import Finding, KolegaConnection, PullRequestOpening


def test_fix_review_approve_and_open_pull_request(
    fast_tracking,
    celery_worker_process,
    browser_page,
    live_server,
    team,
    admin,
    triager,
    approver,
    sign_in,
    shot,
):
    from sandbox.services.seed import demo_organization_seed
    from triage.services.connections import connection_create
    from triage.sync import sync_connection_full

    _, key, _ = demo_organization_seed(slug="acme-browser", name="Acme Browser")
    connection = connection_create(
        team=team, actor=admin, name="Acme", base_url=live_server.url + "/sandbox", api_key=key
    )
    sync_connection_full(connection=KolegaConnection.objects.get(pk=connection.pk))
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
