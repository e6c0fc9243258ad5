"""Findings triage in headless Chromium against the live server, the sandbox over HTTP and,
for bulk changes, a real Celery worker."""

import re

import pytest
from django.urls import reverse

from tests.browser.journey import connect_and_sync
from triage.clients import kolega_outbound_policy
from triage.kolega import KolegaClient, iter_all
from triage.models import Finding, Repository, Role


def _kolega_statuses(live_server, key, repository_id) -> dict[str, str]:
    with KolegaClient(
        base_url=live_server.url + "/sandbox", api_key=key, outbound_policy=kolega_outbound_policy()
    ) as client:
        return {f.id: f.status for f in iter_all(client.list_findings, repository_id=repository_id)}


@pytest.fixture
def demo(transactional_db):
    from sandbox.services.seed import demo_organization_seed

    organization, key, _ = demo_organization_seed(slug="acme-browser", name="Acme Browser")
    return organization, key


def test_filter_select_all_matches_and_change_50_with_the_worker(
    browser_page, live_server, team, member, sign_in, shot, celery_worker_process
):
    from sandbox.services.scale import organization_scale_create

    scaled = organization_scale_create(repositories=2, findings=100, slug="scale-browser")
    connection = connect_and_sync(team, live_server, scaled.api_key)
    repository = Repository.objects.filter(connection=connection).order_by("name").first()
    assert Finding.objects.filter(repository=repository).count() == 50
    already_ignored = Finding.objects.filter(repository=repository, status="ignored").count()
    page = browser_page
    sign_in(page, member(Role.TRIAGER, username="tess"))

    page.goto(live_server.url + reverse("findings", kwargs={"team_slug": team.slug}))
    page.get_by_label("Repository").select_option(label=repository.name)
    page.wait_for_url(re.compile(rf"repository={repository.pk}"))
    assert "50 findings" in page.locator("#findings-count").inner_text()
    shot(page, "filtered")

    page.get_by_label(re.compile("All 50 findings matching")).check()
    page.get_by_label("Set status").select_option("ignored")
    page.get_by_label("Comment").fill("Vendored code, not shipped")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#bulk-preview")
    preview.filter(has_text="will change").wait_for()
    assert f"{50 - already_ignored} findings will change" in preview.inner_text()
    shot(page, "preview")
    page.get_by_role("button", name="Change status").click()

    page.wait_for_url(re.compile(r"/findings/jobs/\d+/"))
    page.get_by_role("heading", name="Done").wait_for(timeout=60_000)
    shot(page, "job-finished")
    assert page.locator("#job-processed").inner_text() == "50 / 50"
    assert page.locator("#job-changed").inner_text() == str(50 - already_ignored)
    assert page.locator("#job-failed").inner_text() == "0"
    statuses = _kolega_statuses(live_server, scaled.api_key, repository.upstream_id)
    assert set(statuses.values()) == {"ignored"}
    assert set(Finding.objects.filter(repository=repository).values_list("status", flat=True)) == {
        "ignored"
    }
    assert page.console_errors == []


def test_triage_three_findings_with_the_keyboard_only(
    browser_page, live_server, team, member, sign_in, shot, demo
):
    _, key = demo
    connection = connect_and_sync(team, live_server, key)
    page = browser_page
    sign_in(page, member(Role.TRIAGER, username="kim"))
    url = live_server.url + reverse("findings", kwargs={"team_slug": team.slug})
    # Filters live in the URL: narrowing pushes it, the back button restores the page.
    page.goto(url)
    everything = page.locator("#findings-count").inner_text()
    page.get_by_label("Open", exact=True).check()
    page.wait_for_url(re.compile(r"\?status=open&sort=severity$"))
    assert page.locator("#findings-count").inner_text() != everything
    page.go_back()
    page.wait_for_url(url)
    page.locator("#findings-count", has_text=everything).wait_for()
    assert not page.get_by_label("Open", exact=True).is_checked()

    page.goto(url + "?status=open&sort=file")
    shot(page, "open-findings")

    rows = page.locator("tr[data-finding-row]")
    first_three = [rows.nth(i).get_attribute("id") for i in range(3)]
    wanted = {}
    for step, (key_name, status) in enumerate(
        [("r", "resolved"), ("f", "false_positive"), ("i", "ignored")]
    ):
        page.keyboard.press("j")
        row_id = first_three[step]
        assert page.locator(f"#{row_id}").get_attribute("class") == "is-cursor"
        page.keyboard.press(key_name)
        page.locator(f"#{row_id}[data-status='{status}']").wait_for()
        wanted[int(row_id.rsplit("-", 1)[1])] = status
    shot(page, "triaged")

    # x selects the cursor row; / jumps to the search; o opens the finding.
    page.keyboard.press("x")
    assert page.locator(f"#{first_three[2]} input[name=finding]").is_checked()
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "filter-q"
    page.keyboard.press("j")  # typed into the search box, not a move
    assert page.locator("#filter-q").input_value() == "j"
    page.keyboard.press("Escape")
    page.locator("body").focus()
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("o")
    page.wait_for_url(re.compile(r"/findings/\d+/$"))
    shot(page, "opened")

    for pk, status in wanted.items():
        finding = Finding.objects.get(pk=pk)
        assert finding.status == status
        with KolegaClient(
            base_url=connection.base_url, api_key=key, outbound_policy=kolega_outbound_policy()
        ) as client:
            upstream = client.get_finding(
                repository_id=finding.repository.upstream_id, finding_id=finding.upstream_id
            )
        assert upstream.status == status
    assert page.console_errors == []


def test_the_selection_counter_says_what_the_bulk_change_will_touch(
    browser_page, live_server, team, member, sign_in, shot, demo
):
    """A status key on a selected row keeps it selected (the count once fell from 2 to 1),
    and with "All N matching" ticked the counter says all N (it once said "0 selected")."""
    _, key = demo
    connect_and_sync(team, live_server, key)
    page = browser_page
    sign_in(page, member(Role.TRIAGER, username="kim"))
    page.goto(
        live_server.url + reverse("findings", kwargs={"team_slug": team.slug}) + "?status=open"
    )
    summary = page.locator("#findings-selection strong").first
    rows = page.locator("tr[data-finding-row]")
    first, second = rows.nth(0).get_attribute("id"), rows.nth(1).get_attribute("id")
    matching = page.locator("#findings-count").inner_text().split()[0]

    page.keyboard.press("j")
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    assert summary.inner_text() == "2 selected"

    page.keyboard.press("m")
    page.locator(f"#{second}[data-status='needs_manual_review']").wait_for()
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )
    assert page.locator(f"#{second} input[name=finding]").is_checked()
    assert page.locator(f"#{first} input[name=finding]").is_checked()
    assert summary.inner_text() == "2 selected"
    shot(page, "status-key-keeps-the-selection")

    page.locator("#all-matching").check()
    assert summary.inner_text() == f"All {matching} matching selected"
    shot(page, "all-matching")
    page.locator("#all-matching").uncheck()
    assert summary.inner_text() == "2 selected"
