"""A finding's page in headless Chromium against the live server and the sandbox over HTTP:
a status change with its reason in the timeline, a comment with a mention in the thread,
the line of code, and "Start a fix". Any console error or CSP violation fails the test."""

import re

import pytest
from django.urls import reverse

from tests.browser.journey import Journey, connect_demo_organization
from triage.models import Finding, FindingComment, KolegaConnection, Role

# Every CSP violation is reported as a console error the test collects (Chromium logs some
# itself, not all: a blocked inline style attribute set by a script is silent otherwise).
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline"}`
    + ` at ${event.sourceFile}:${event.lineNumber}`);
});
"""


@pytest.fixture
def connection(team, live_server, transactional_db) -> KolegaConnection:
    return connect_demo_organization(
        team, live_server, slug="acme-finding-page", name="Acme Finding Page"
    )


@pytest.fixture
def page(browser_page):
    page = browser_page
    page.add_init_script(REPORT_CSP_VIOLATIONS)
    page.on("pageerror", lambda error: page.console_errors.append(f"page error: {error}"))
    return page


def test_timeline_comment_thread_and_start_a_fix(
    page, live_server, team, member, sign_in, connection, output_dir
):
    finding = (
        Finding.objects.filter(connection=connection, status="open")
        .exclude(source_url=None)
        .order_by("pk")
        .first()
    )
    line = re.search(r"#L(\d+)", finding.source_url).group(1)
    member(Role.VIEWER, username="alice")
    sign_in(page, member(Role.TRIAGER, username="tess"))
    j = Journey(page, live_server, output_dir)
    url = reverse("finding", kwargs={"team_slug": team.slug, "finding_id": finding.pk})

    j.visit("finding", url)
    location = page.locator("#finding-location a")
    assert location.inner_text() == f"{finding.file_path}:{line}"
    assert location.get_attribute("href") == finding.source_url

    # A status change with its reason: the timeline names who and why.
    page.get_by_placeholder("Why (optional)").fill("Parameterised in the ORM layer")
    j.visit("resolved", lambda: page.get_by_role("button", name="Resolved", exact=True).click())
    assert page.locator("#finding-status").inner_text() == "Resolved"
    newest = page.locator("#timeline .timeline-entry").first
    assert "Status changed" in newest.inner_text()
    assert "Open → Resolved" in newest.inner_text()
    assert newest.locator(".timeline-actor").inner_text() == "tess"
    assert newest.locator(".timeline-comment").inner_text() == "Parameterised in the ORM layer"

    # A comment with a mention: the thread is swapped in place, the page is not reloaded.
    page.evaluate("() => { window.samePage = true; }")
    page.get_by_label("Comment", exact=True).fill("@alice can you confirm? cc @nobody")
    page.get_by_role("button", name="Add comment").click()
    mention = page.locator("#comment-thread .mention")
    mention.wait_for()
    j.settle()
    j.check("commented")
    assert mention.inner_text() == "@alice"
    comment = page.locator("#comment-thread .comment").last
    assert "cc @nobody" in comment.inner_text()
    assert comment.locator(".comment-author").inner_text() == "tess"
    assert page.evaluate("() => window.samePage === true")
    assert page.get_by_label("Comment", exact=True).input_value() == ""
    stored = FindingComment.objects.get()
    assert [user.username for user in stored.mentions.all()] == ["alice"]

    # Start a fix with this finding chosen.
    j.visit("start-fix", lambda: page.locator("#start-fix").click())
    page.wait_for_url(re.compile(rf"/fixes/new/\?finding={finding.pk}$"))
    assert page.get_by_role("heading", name="Start an AI fix").is_visible()
    assert finding.file_path in page.locator("main").inner_text()

    assert page.console_errors == []
    j.assert_accessible()
