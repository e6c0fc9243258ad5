"""Every page of the portal, visited in Chromium by a signed-in member of a team synced from
the sandbox's demo organization. The ``browser_page`` fixture fails the test on any console
error, uncaught script error or Content-Security-Policy violation on any of them."""

import re

import pytest
from django.urls import reverse

from tests.browser.journey import SETTLED
from tests.security.urlmap import VictimWorld
from triage.models import Finding, KolegaConnection, Role, ScanBatch
from triage.services.connections import connection_create
from triage.sync import sync_connection_full


@pytest.fixture
def world(transactional_db, live_server, team, member):
    """The demo organization synced into ``team``, with a fix under review, an approval, a
    dismissal request and a bulk status change on its findings."""
    from sandbox.services.seed import demo_organization_seed

    admin = member(Role.ADMIN, username="ada")
    _, key, _ = demo_organization_seed(slug="acme-pages", name="Acme Pages")
    created = connection_create(
        team=team, actor=admin, name="Acme", base_url=live_server.url + "/sandbox", api_key=key
    )
    connection = KolegaConnection.objects.get(pk=created.pk)
    run = sync_connection_full(connection=connection)
    assert run.status == "succeeded", run.error
    finding = Finding.objects.filter(team=team, status="open").order_by("pk").first()
    world = VictimWorld(team=team, owner=admin)
    # The world's objects are built on the synced ones rather than made up.
    world.__dict__.update(connection=connection, repository=finding.repository, finding=finding)
    for attribute in ("fix", "approval", "dismissal", "status_job", "saved_view"):
        getattr(world, attribute)
    world.made["run"] = run
    world.made["batch"] = ScanBatch.objects.filter(team=team).order_by("-pk").first()
    assert world.made["batch"] is not None
    return world


def settle(page):
    page.wait_for_load_state("load")
    page.wait_for_function(SETTLED)


def test_every_page_without_console_errors_or_csp_violations(
    browser_page, live_server, world, member, sign_in, shot
):
    page = browser_page
    team = {"team_slug": world.team.slug}
    # An admin: the settings tabs and the audit log are theirs to see.
    sign_in(page, world.owner)
    fix = {**team, "fix_id": world.fix.pk}
    pages = {
        "dashboard": reverse("dashboard", kwargs=team),
        "findings": reverse("findings", kwargs=team),
        "findings-searched-sorted": reverse("findings", kwargs=team) + "?q=sql&sort=file",
        "findings-grouped-by-rule": reverse("findings", kwargs=team) + "?group=rule&status=open",
        "finding": reverse("finding", kwargs={**team, "finding_id": world.finding.pk}),
        "status-changes": reverse("findings-jobs", kwargs=team),
        "status-change": reverse("findings-job", kwargs={**team, "job_id": world.status_job.pk}),
        "scans": reverse("scans", kwargs=team),
        "scan-batch": reverse("scan-batch", kwargs={**team, "batch_id": world.made["batch"].pk}),
        "scan-new": reverse("scan-new", kwargs=team),
        "fixes": reverse("fixes", kwargs=team),
        "fix-new": reverse("fixes-new", kwargs=team) + f"?finding={world.finding.pk}",
        "fix": reverse("fixes-detail", kwargs=fix),
        "fix-side-by-side": reverse("fixes-detail", kwargs=fix) + "?view=split",
        "fix-compare": reverse("fixes-compare", kwargs=fix),
        "approvals": reverse("approvals", kwargs=team),
        "dismissal": reverse(
            "approvals-dismissal", kwargs={**team, "dismissal_id": world.dismissal.pk}
        ),
        "reports": reverse("reports", kwargs=team),
        "sla-breaches": reverse("reports-sla", kwargs=team) + "?kind=breached",
        "sla-due": reverse("reports-sla", kwargs=team) + "?kind=due",
        "sla-policy": reverse("reports-sla-policy", kwargs=team),
        "settings-connections": reverse("settings-connections", kwargs=team),
        "settings-members": reverse("settings-members", kwargs=team),
        "settings-sync": reverse("settings-sync", kwargs=team),
        "settings-sync-run": reverse(
            "settings-sync-run", kwargs={**team, "run_id": world.made["run"].pk}
        ),
        "settings-audit": reverse("settings-audit", kwargs=team),
        "preferences": reverse("preferences"),
        "email-preferences": reverse("email-preferences"),
        "password": reverse("password_change"),
    }
    for name, path in pages.items():
        response = page.goto(live_server.url + path)
        assert response.status < 400, (name, response.status)
        settle(page)
        shot(page, name)
        assert page.console_errors == [], name

    # The reports page as printed.
    page.goto(live_server.url + pages["reports"])
    page.emulate_media(media="print")
    settle(page)
    shot(page, "reports-print")
    page.emulate_media(media="screen")

    # Searching and sorting on the page itself, typed as a person does: htmx swaps the list
    # (it once copied style attributes while settling, which the CSP refuses), pushed URLs,
    # the keyboard, the back button.
    page.goto(live_server.url + pages["findings"])
    page.locator("#filter-q").click()
    page.keyboard.type("sql")
    page.wait_for_url(re.compile(r"q=sql"))
    settle(page)
    page.locator("th a", has_text="File").click()
    page.wait_for_url(re.compile(r"sort=file"))
    settle(page)
    page.locator("th a", has_text="Age").click()
    page.wait_for_url(re.compile(r"sort=age"))
    settle(page)
    shot(page, "findings-search-and-sort")
    page.locator("#filter-q").press("Escape")
    page.evaluate("document.activeElement.blur()")
    for key in ("j", "x", "j", "x", "?", "Escape"):
        page.keyboard.press(key)
    settle(page)
    page.go_back()
    settle(page)
    page.go_back()
    settle(page)
    assert page.console_errors == []


def test_every_page_of_the_url_map_without_console_errors_or_csp_violations(
    browser_page, live_server, world, sign_in
):
    """Every portal URL that answers a whole HTML page, read from the resolver: a page added
    later is visited without a change here."""
    from tests.security.urlmap import all_urls, url_of

    page = browser_page
    sign_in(page, world.owner)
    visited = []
    for entry in all_urls():
        if entry.category not in ("team", "account") or entry.name in ("logout", "login"):
            continue
        url = live_server.url + url_of(entry, world)
        answer = page.request.get(url, max_redirects=0)
        is_page = answer.status == 200 and answer.headers.get("content-type", "").startswith(
            "text/html"
        )
        if not is_page or "<html" not in answer.text()[:500]:
            continue
        page.goto(url)
        settle(page)
        visited.append(entry.url_id)
        assert page.console_errors == [], entry.url_id
    assert len(visited) >= 20, visited
