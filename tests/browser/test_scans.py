"""Starting a scan in the browser and watching it reach completed, tracked by a real Celery
worker against the sandbox served by the live server (its clock running five times faster)."""

import re

import pytest
from django.urls import reverse

from triage.models import KolegaConnection, Role, ScanBatch


@pytest.fixture
def tracking_worker(monkeypatch, request):
    """The real worker, polling tracked batches every second instead of every five."""
    monkeypatch.setenv("PORTAL_TRACK_POLL_SECONDS", "1")
    return request.getfixturevalue("celery_worker_process")


@pytest.fixture
def mirrored_team(team, member, live_server, settings):
    from sandbox import demo_trees
    from sandbox.services.organizations import organization_create
    from sandbox.services.repositories import repository_create
    from triage.services.connections import connection_create
    from triage.sync import sync_connection_full

    settings.SANDBOX_TIME_SCALE = 0.2  # the ~20 s life cycle of a batch takes ~4 s
    organization, key = organization_create(name="Acme Browser")
    # Demo trees with planted problems, so the batch has results to show.
    for full_name in ("acme/payments-api", "acme/web-frontend", "acme/infra"):
        repository_create(
            organization=organization,
            name=full_name.split("/", 1)[1],
            source_trees={full_name: demo_trees.load_tree(full_name)},
        )
    created = connection_create(
        team=team,
        actor=member(Role.ADMIN, username="ada"),
        name="Acme",
        base_url=live_server.url + "/sandbox",
        api_key=key,
    )
    sync_connection_full(connection=KolegaConnection.objects.get(pk=created.pk))
    return team


def test_start_a_scan_and_watch_it_complete(
    transactional_db,
    mirrored_team,
    tracking_worker,
    browser_page,
    live_server,
    sign_in,
    member,
    shot,
):
    team = mirrored_team
    page = browser_page
    sign_in(page, member(Role.TRIAGER, username="tess"))

    page.goto(live_server.url + reverse("dashboard", kwargs={"team_slug": team.slug}))
    shot(page, "dashboard-before")
    page.get_by_role("link", name="Start scans").first.click()
    page.wait_for_url(re.compile(r".*/scans/new/$"))

    page.get_by_label("payments-api").check()
    page.get_by_label("Secrets").check()
    page.get_by_label("Code (SAST)").check()
    preview = page.locator("#quota-preview")
    preview.get_by_text("2 scan batches will be started").wait_for()
    assert "SAST scans" in preview.inner_text()
    shot(page, "form-with-quota")
    page.get_by_role("button", name="Start 2 scans").click()

    page.wait_for_url(re.compile(r".*/scans/started/\?batch=.*"))
    assert page.locator("progress").count() == 2
    shot(page, "started-progressing")
    page.locator("#all-finished").wait_for(timeout=60_000)
    shot(page, "started-completed")
    assert page.locator("#started-batches .state-completed").count() == 2, list(
        ScanBatch.objects.values_list("status", "error_message", "progress_repositories")
    )

    batches = ScanBatch.objects.filter(team=team)
    assert {b.status for b in batches} == {"completed"}
    assert all(b.findings_synced_at is not None for b in batches)

    batch_pk = batches.get(scan_type="semgrep_scan").pk
    page.locator(f'#started-batches a[href$="/scans/{batch_pk}/"]').click()
    page.wait_for_selector("#batch-results")
    assert page.locator("#batch-status").inner_text() == "Completed"
    assert "acme/payments-api" in page.locator("#batch-progress table").first.inner_text()
    findings = page.get_by_role("link", name=re.compile(r"Triage these \d+ findings"))
    assert findings.get_attribute("href").endswith(f"/findings/?batch={batch_pk}")
    shot(page, "batch-results")

    page.get_by_role("link", name="Dashboard").click()
    page.locator("#quota-meters meter").first.wait_for()
    assert page.locator("#active-batches").inner_text().startswith("No scan is running")
    assert page.locator("table .state-completed").count() == 2  # last secrets and code scans
    shot(page, "dashboard-after")

    page.get_by_role("link", name="Scans", exact=True).click()
    page.get_by_label("Scan type").select_option("secrets_scan")
    page.wait_for_url(re.compile(r".*scan_type=secrets_scan.*"))
    assert page.locator("#scan-table tbody tr").count() == 1
    shot(page, "scan-list-filtered")
    assert page.console_errors == []
