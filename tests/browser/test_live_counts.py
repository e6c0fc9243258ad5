"""Counts that follow a change without a reload: the approvals badge in the navigation after a
decision, and the findings count after a status set from the table (events in HX-Trigger)."""

import re

from django.urls import reverse

from tests.browser.journey import connect_and_sync
from tests.browser.test_findings import demo  # noqa: F401  (fixture)
from tests.dismissals import false_positive_requests
from tests.factories import RepositoryFactory
from triage.models import DismissalRequest


def _mark_the_document(page):
    # Survives every htmx swap, is gone after any reload or navigation.
    page.evaluate("window.notReloaded = true")


def _not_reloaded(page) -> bool:
    return page.evaluate("window.notReloaded === true")


def test_the_approvals_badge_follows_a_decision_without_a_reload(
    browser_page, live_server, team, triager, approver, sign_in, shot
):
    repository = RepositoryFactory(team=team)
    requests = false_positive_requests(triager, repository, 2, reason="Test fixture")
    page = browser_page
    sign_in(page, approver)
    page.goto(
        live_server.url
        + reverse(
            "approvals-dismissal",
            kwargs={"team_slug": team.slug, "dismissal_id": requests[0].pk},
        )
    )
    badge = page.locator("#approvals-badge")
    assert badge.inner_text().strip() == "2"
    _mark_the_document(page)

    page.get_by_label("Comment").fill("Real code, fix it")
    page.get_by_role("button", name="Reject").click()

    page.locator("#dismissal-status", has_text="Rejected").wait_for()
    page.locator("#approvals-badge", has_text=re.compile(r"^\s*1\s*$")).wait_for()
    page.locator("#toasts", has_text="Rejected. Nothing changes").wait_for()
    shot(page, "decided")
    assert _not_reloaded(page)
    requests[0].refresh_from_db()
    assert requests[0].status == DismissalRequest.Status.REJECTED
    assert page.console_errors == []


def test_the_findings_count_follows_a_status_set_from_the_table(
    browser_page,
    live_server,
    team,
    triager,
    sign_in,
    shot,
    demo,  # noqa: F811
):
    _, key = demo
    connect_and_sync(team, live_server, key)
    page = browser_page
    sign_in(page, triager)
    page.goto(
        live_server.url
        + reverse("findings", kwargs={"team_slug": team.slug})
        + "?status=open&sort=file"
    )
    count = page.locator("#findings-count")
    before = int(re.match(r"\d+", count.inner_text()).group())
    _mark_the_document(page)

    page.keyboard.press("j")
    page.keyboard.press("r")  # resolve the row under the cursor

    page.locator("#findings-count", has_text=f"{before - 1} finding").wait_for()
    shot(page, "count-updated")
    assert _not_reloaded(page)
    assert page.console_errors == []
