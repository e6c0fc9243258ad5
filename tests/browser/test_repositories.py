"""The repository page reached from a repository link on the findings page, and the
pull-requests page with a filter, in Chromium: no console error, no CSP violation."""

import pytest
from django.urls import reverse

from tests import factories
from triage.models import Role

# Reports every CSP violation as a console error, which the page's error list collects.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`);
});
"""


@pytest.fixture
def watched_page(browser_page):
    browser_page.add_init_script(CSP_LISTENER)
    browser_page.page_errors = []
    browser_page.on("pageerror", lambda error: browser_page.page_errors.append(str(error)))
    return browser_page


def _problems(page) -> list[str]:
    return [*page.console_errors, *page.page_errors]


@pytest.fixture
def world(team):
    payments = factories.RepositoryFactory(team=team, name="payments-api")
    web = factories.RepositoryFactory(
        team=team, name="web-frontend", connection=payments.connection
    )
    factories.FindingFactory(repository=payments, severity="critical", title="Card number logged")
    factories.FindingFactory(repository=payments, severity="high", status="needs_manual_review")
    factories.FindingFactory(repository=web, severity="low", title="Missing header")
    factories.ScanBatchFactory(repository=payments, scan_type="secrets_scan")
    merged = factories.FixFactory(repository=payments, title="Mask card numbers")
    factories.PullRequestFactory(fix=merged, pr_number=11, merge_status="merged")
    opened = factories.FixFactory(repository=web, title="Add the header")
    factories.PullRequestFactory(fix=opened, pr_number=12, merge_status="open")
    return payments, web


def test_repository_page_from_the_findings_table(
    watched_page, live_server, team, member, sign_in, shot, world, transactional_db
):
    payments, _ = world
    page = watched_page
    sign_in(page, member(Role.VIEWER))

    page.goto(live_server.url + reverse("findings", kwargs={"team_slug": team.slug}))
    page.locator("#findings-page [data-repository-link]", has_text="payments-api").first.click()

    page.wait_for_url(f"**/repositories/{payments.pk}/")
    assert page.locator("h1").inner_text().startswith("payments-api")
    stats = page.locator(".stats .stat-value").all_inner_texts()
    assert stats[:2] == ["1", "1"]  # critical open, high needing manual review
    assert page.locator("#repository-coverage").get_by_role("link", name="Secrets").is_visible()
    assert page.locator("#repository-pull-requests").get_by_text("Merged").is_visible()
    shot(page, "repository")
    assert _problems(page) == []


def test_pull_requests_page_filters_by_merge_status(
    watched_page, live_server, team, member, sign_in, shot, world, transactional_db
):
    page = watched_page
    sign_in(page, member(Role.VIEWER))
    page.goto(live_server.url + reverse("pull-requests", kwargs={"team_slug": team.slug}))
    assert page.locator("[data-pull-request]").count() == 2

    page.select_option("#pr-merge_status", "merged")

    page.wait_for_url("**merge_status=merged**")
    rows = page.locator("[data-pull-request]")
    rows.first.wait_for()
    assert rows.count() == 1 and "Mask card numbers" in rows.first.inner_text()
    page.goto(page.url.replace("merge_status=merged", "merge_status=nope"))
    assert page.get_by_text("Ignored the filter Merge status").is_visible()
    shot(page, "pull-requests")
    assert _problems(page) == []
