"""One journey per role, walked in headless Chromium the way that person uses the portal.

Each journey sets up what it needs before its part starts (a seeded sandbox organization, a
completed fix waiting for approval, three months of history), then clicks through the pages
its role uses. Every page visited is screenshotted under test-output/<test>/ and checked with
axe-core: no serious or critical accessibility violation is allowed (see journey.py).

Background work (scan tracking, bulk status jobs, fix tracking, opening pull requests) runs in
a real Celery worker on PostgreSQL and Redis. Elsewhere (SQLite, whose test database lives in
the test process's memory where no worker process can reach it) the journey runs the queued
tasks itself, in the test thread, while it waits for the page to show their outcome.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import threading
import time
from pathlib import Path

import httpx
import pytest
from django.db import connection as db_connection
from django.urls import reverse

from tests.browser.journey import Journey, connect_demo_organization
from tests.browser.test_reports import make_history
from tests.factories import TEST_PASSWORD, UserFactory
from tests.fixes_started import fix_started
from triage.models import (
    AuditEvent,
    Finding,
    FindingStatusJob,
    Fix,
    FixApproval,
    KolegaConnection,
    Membership,
    PullRequestOpening,
    Role,
    ScanBatch,
)


class TasksRunHere:
    """Stands in for the worker where no worker process can reach the test database.

    The test database is then SQLite in memory, shared between connections, where a table
    one connection writes is locked for the others: a second reader or writer gets an error
    rather than a wait. So the live server answers one request at a time (`gate`, held from
    `request_started` to `request_finished`), the tasks queued by its requests are run by the
    test thread between requests, each when its countdown is due, whenever the journey waits
    (`Journey.wait_until`), and every Kolega call goes to the sandbox in-process, in the
    calling thread (a request holding the gate would otherwise wait for its own sandbox call).
    """

    def __init__(self):
        self.gate = threading.RLock()
        self.lock = threading.Lock()
        self.queue: list[tuple[float, object, tuple, dict]] = []

    def apply_async(self, task, args=None, kwargs=None, countdown=None, **options):
        due = time.monotonic() + (countdown or 0)
        with self.lock:
            self.queue.append((due, task, tuple(args or ()), dict(kwargs or {})))

    def enter(self, **kwargs) -> None:
        self.gate.acquire()

    def leave(self, **kwargs) -> None:
        self.gate.release()

    def run_due(self) -> None:
        now = time.monotonic()
        with self.lock:
            due = [item for item in self.queue if item[0] <= now]
            self.queue = [item for item in self.queue if item[0] > now]
        for _, task, args, kwargs in due:
            with self.gate:
                task.apply(args=args, kwargs=kwargs, throw=True)

    def quiet(self):
        """Hold the live server still while the test reads the database."""
        return self.gate


class RealWorker:
    def run_due(self) -> None:
        pass

    def quiet(self):
        return contextlib.nullcontext()


@pytest.fixture
def background(request, monkeypatch, settings, transactional_db):
    """Whatever runs Celery tasks for this journey, polling tracked work every second."""
    monkeypatch.setenv("PORTAL_TRACK_POLL_SECONDS", "1")  # read by the worker process
    settings.PORTAL_TRACK_POLL_SECONDS = 1
    settings.SANDBOX_TIME_SCALE = 0.1  # the sandbox's scans and fixes run ten times faster
    if db_connection.vendor == "postgresql" and os.environ.get("REDIS_URL"):
        request.getfixturevalue("celery_worker_process")
        yield RealWorker()
        return
    from celery.app.task import Task
    from django.core.signals import request_finished, request_started

    from tests.conftest import InProcessWSGI
    from triage.clients import override_transport

    runner = TasksRunHere()
    monkeypatch.setattr(
        Task,
        "apply_async",
        lambda task, args=None, kwargs=None, **options: runner.apply_async(
            task, args, kwargs, **options
        ),
    )
    settings.PORTAL_STATUS_JOB_CONCURRENCY = 1  # its PATCHes stay in the task's thread
    request_started.connect(runner.enter, weak=False)
    request_finished.connect(runner.leave, weak=False)
    try:
        with override_transport(httpx.WSGITransport(app=InProcessWSGI())):
            yield runner
    finally:
        request_started.disconnect(runner.enter)
        request_finished.disconnect(runner.leave)


@pytest.fixture
def journey(browser_page, live_server, output_dir):
    def make(background=None) -> Journey:
        return Journey(browser_page, live_server, output_dir, background=background)

    return make


def team_url(team, name: str, **kwargs) -> str:
    return reverse(name, kwargs={"team_slug": team.slug, **kwargs})


def sign_in_with_the_form(j: Journey, team, username: str) -> None:
    j.visit("sign-in", team_url(team, "dashboard"))
    j.page.get_by_label("Username").fill(username)
    j.page.get_by_label("Password").fill(TEST_PASSWORD)
    j.visit("dashboard", lambda: j.page.get_by_role("button", name="Sign in").click())
    j.page.wait_for_url(f"**/t/{team.slug}/")


def nav(j: Journey, name: str):
    """A link of the team navigation (its name may carry a count, as Approvals does)."""
    return j.page.get_by_role("navigation", name="Team navigation").get_by_role(
        "link", name=re.compile(rf"^{name}\b")
    )


def test_admin_connects_a_key_and_adds_members(
    journey, live_server, team, member, transactional_db
):
    from sandbox.services.organizations import organization_create

    organization, key = organization_create(name="Acme Security")
    member(Role.ADMIN, username="ada")
    for username in ("tess", "alex", "vic"):
        UserFactory(username=username)
    j = journey()
    page = j.page

    sign_in_with_the_form(j, team, "ada")
    # No connection yet: the dashboard sends the admin to Settings.
    j.visit("settings", lambda: page.get_by_role("link", name="Connect in Settings").click())
    assert page.get_by_role("link", name="Kolega connections").get_attribute("aria-current")
    page.get_by_label("Name").fill("Acme production")
    page.get_by_label("Base URL").fill(live_server.url + "/sandbox")
    page.get_by_label("API key").fill(key)
    j.visit("connected", lambda: page.get_by_role("button", name="Verify and save").click())
    connections = page.locator("table").first
    assert "Acme production" in connections.inner_text()
    assert "Acme Security" in connections.inner_text()
    assert key not in page.content()  # only the prefix is ever shown again
    connection = KolegaConnection.objects.get(team=team)
    assert connection.organization_id == str(organization.id)

    j.visit("members", lambda: page.get_by_role("link", name="Members").click())
    for username, role in (("tess", "Triager"), ("alex", "Approver"), ("vic", "Viewer")):
        page.get_by_label("Username").fill(username)
        page.get_by_label("Role", exact=True).select_option(label=role)
        j.visit(f"added-{username}", lambda: page.get_by_role("button", name="Add").click())
        page.get_by_text(f"{username} is a member.").wait_for()
    # Promote the viewer after all.
    page.get_by_label("Role of vic").select_option(label="Approver")
    j.visit(
        "role-changed",
        lambda: (
            page.get_by_label("Role of vic")
            .locator("xpath=..")
            .get_by_role("button", name="Change")
            .click()
        ),
    )
    roles = dict(Membership.objects.filter(team=team).values_list("user__username", "role"))
    assert roles == {"ada": "admin", "tess": "triager", "alex": "approver", "vic": "approver"}

    j.visit("audit-log", lambda: page.get_by_role("link", name="Audit log").click())
    log = page.locator("main").inner_text()
    for username in ("tess", "alex", "vic"):
        assert username in log
    # Actions and their details read as words, not as internal keys.
    assert "Connection added" in log and "connection.create" not in log
    assert "Member's role changed" in log and "member.role_change" not in log
    j.narrow(
        lambda: page.get_by_label("Action").select_option("member.add"),
        re.compile(r"action=member.add"),
    )
    j.check("audit-log-member-add")
    assert page.locator("main tbody tr").count() == 3
    assert AuditEvent.objects.filter(team=team, action="member.add").count() == 3
    assert page.console_errors == []
    j.assert_accessible()


def test_viewer_reads_reports_and_exports_csv_without_write_controls(
    journey, team, member, transactional_db
):
    make_history(team)
    member(Role.VIEWER, username="manager")
    j = journey()
    page = j.page

    sign_in_with_the_form(j, team, "manager")
    assert page.get_by_role("link", name="Start scans").count() == 0

    j.visit("findings", lambda: nav(j, "Findings").click())
    assert page.locator("#findings-selection").count() == 0  # no bulk status form
    assert page.locator("input[name=finding]").count() == 0
    j.narrow(
        lambda: page.get_by_label("Critical", exact=True).check(), re.compile(r"severity=critical")
    )
    j.visit("findings-critical")
    j.visit("finding", lambda: page.locator("tr[data-finding-row] a").first.click())
    page.wait_for_url(re.compile(r"/findings/\d+/$"))
    assert page.get_by_role("button", name="Resolved").count() == 0
    assert page.get_by_role("link", name="Start a fix…").count() == 0

    j.visit("reports", lambda: nav(j, "Reports").click())
    page.get_by_role("heading", name="Security report").wait_for()
    j.narrow(lambda: page.get_by_label("Period").select_option("90"), "**period=90**")
    page.locator(".report-period", has_text="90 days").wait_for()
    j.check("reports-90-days")

    page.get_by_text("Export CSV").click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="All findings").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    text = Path(download.path()).read_text(encoding="utf-8")
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert "severity" in [column.lower() for column in header], header
    assert len(rows) == Finding.objects.filter(team=team).count() > 100

    # Settings are readable, not editable.
    j.visit("settings", lambda: nav(j, "Settings").click())
    assert page.get_by_role("button", name="Verify and save").count() == 0
    assert page.get_by_role("button", name="Delete").count() == 0
    j.visit("settings-members", lambda: page.get_by_role("link", name="Members").click())
    assert page.get_by_role("button", name="Add").count() == 0
    assert page.get_by_role("button", name="Remove").count() == 0

    # Nothing on the pages a viewer reads offers a write.
    for path in (team_url(team, "dashboard"), team_url(team, "findings")):
        page.goto(j.url(path))
        for label in ("Start scans", "Change status", "Start fix", "Approve"):
            assert page.get_by_role("button", name=label).count() == 0
            assert page.get_by_role("link", name=label).count() == 0
    assert page.console_errors == []
    j.assert_accessible()


def test_triager_scans_triages_in_bulk_fixes_and_requests_approval(
    journey, background, live_server, team, member
):
    connect_demo_organization(team, live_server, slug="acme-triager")
    member(Role.TRIAGER, username="tess")
    j = journey(background)
    page = j.page

    sign_in_with_the_form(j, team, "tess")
    j.visit("new-scan", lambda: page.get_by_role("link", name="Start scans").first.click())
    page.get_by_label("payments-api").check()
    page.get_by_label("Code (SAST)").check()
    page.locator("#quota-preview").get_by_text("1 scan batch will be started").wait_for()
    j.check("new-scan-chosen")
    j.visit("scan-started", lambda: page.get_by_role("button", name="Start 1 scan").click())
    page.wait_for_url(re.compile(r".*/scans/started/\?batch=.*"))
    j.wait_until(lambda: page.locator("#all-finished").count() > 0, what="the scan to finish")
    j.check("scan-completed")
    started = re.search(r"batch=(\d+)", page.url).group(1)
    batch = ScanBatch.objects.get(team=team, pk=started)
    assert batch.status == "completed"

    j.visit(
        "batch-results",
        lambda: page.locator(f'#started-batches a[href$="/scans/{batch.pk}/"]').click(),
    )
    j.visit(
        "batch-findings",
        lambda: page.get_by_role("link", name=re.compile(r"Triage these \d+ findings")).click(),
    )
    page.wait_for_url(re.compile(rf"batch={batch.pk}"))
    in_batch = Finding.objects.filter(team=team, repository=batch.repository, status="open")
    severities = set(in_batch.values_list("severity", flat=True))
    least = next(s for s in ("info", "low", "medium", "high", "critical") if s in severities)
    j.narrow(
        lambda: page.get_by_label(least.capitalize(), exact=True).check(),
        re.compile(rf"severity={least}"),
    )
    j.visit("findings-filtered")
    count = int(re.match(r"\d+", page.locator("#findings-count").inner_text()).group())
    assert count > 0

    page.get_by_label(re.compile(rf"All {count} findings? matching")).check()
    page.get_by_label("Set status").select_option("ignored")
    page.get_by_label("Comment").fill("Test fixtures, never deployed")
    page.get_by_role("button", name="Preview").click()
    page.locator("#bulk-preview").filter(has_text="will change").wait_for()
    j.check("bulk-preview")
    j.visit("bulk-job", lambda: page.get_by_role("button", name="Change status").click())
    page.wait_for_url(re.compile(r"/findings/jobs/\d+/"))
    done = page.get_by_role("heading", name="Done")
    j.wait_until(lambda: done.count() > 0, what="the bulk status job")
    j.check("bulk-job-done")
    assert page.locator("#job-failed").inner_text() == "0"
    job = FindingStatusJob.objects.get(team=team)
    assert set(job.items.values_list("finding__status", flat=True)) == {"ignored"}

    # The open code findings of the scanned repository: read one, then fix two of them.
    j.visit("findings-open", lambda: nav(j, "Findings").click())
    j.narrow(
        lambda: page.get_by_label("Repository").select_option(label=batch.repository.name),
        re.compile(rf"repository={batch.repository.pk}"),
    )
    j.narrow(lambda: page.get_by_label("Open", exact=True).check(), re.compile(r"status=open"))
    j.narrow(
        lambda: page.get_by_label("Scan type").select_option("semgrep_scan"),
        re.compile(r"scan_type=semgrep_scan"),
    )
    j.visit("findings-open-code")
    rows = page.locator("tr[data-finding-row]")
    assert rows.count() >= 2
    j.visit("finding", lambda: rows.first.locator("a").first.click())
    page.wait_for_url(re.compile(r"/findings/\d+/$"))
    j.visit("findings-open-code-again", lambda: page.go_back())
    for index in (0, 1):
        rows.nth(index).locator("input[name=finding]").check()
    j.visit("fix-new", lambda: page.get_by_role("button", name="Start a fix…").click())
    assert f"2 findings in {batch.repository.name}" in page.locator("main").inner_text()
    page.get_by_role("button", name="Fix and add tests").click()
    j.visit("fix-started", lambda: page.get_by_role("button", name="Start fix").click())
    page.wait_for_url(re.compile(r"/fixes/\d+/$"))
    fix = Fix.objects.get(team=team)

    # The heartbeat polls until the fix is mirrored as completed, then the page reloads.
    j.wait_until(lambda: page.locator("table.diff").count() > 0, what="the fix's diff")
    j.settle()
    j.check("fix-diff")
    assert page.locator("table.diff .diff-add").count() > 0
    j.visit("fix-side-by-side", lambda: page.get_by_role("link", name="Side by side").click())
    page.locator("table.diff-split").first.wait_for()
    page.locator("[data-viewed-toggle]").first.check()

    page.locator("summary", has_text="Request approval").click()
    page.get_by_label("Note for the approver").fill("Parameterized query; tests added.")
    j.check("request-approval-form")
    j.visit(
        "approval-requested", lambda: page.get_by_role("button", name="Request approval").click()
    )
    page.get_by_text("Waiting for approval").first.wait_for()
    approval = FixApproval.objects.get(fix=fix)
    assert approval.status == FixApproval.Status.PENDING
    assert approval.diff_sha256 == Fix.objects.get(pk=fix.pk).diff_sha256
    assert page.console_errors == []
    j.assert_accessible()


def test_approver_approves_a_fix_and_sees_its_pull_request(
    journey, background, live_server, team, member
):
    from triage.services.approvals import approval_request

    connection = connect_demo_organization(team, live_server, slug="acme-approver")
    triager = member(Role.TRIAGER, username="tina")
    member(Role.APPROVER, username="alex")
    finding = (
        Finding.objects.filter(
            connection=connection,
            status="open",
            scan_type="semgrep_scan",
            repository__name="payments-api",
        )
        .select_related("repository")
        .order_by("pk")
        .first()
    )
    fix = fix_started(
        triager,
        [finding],
        title="Parameterize the payments query",
        instructions="Fix it and add a test.",
    )
    j = journey(background)
    j.wait_until(
        lambda: Fix.objects.filter(pk=fix.pk, status="completed").exclude(diff_sha256="").exists(),
        timeout=60,
        what="the fix to complete",
    )
    approval_request(fix=Fix.objects.get(pk=fix.pk), actor=triager, note="Reviewed, tests pass.")
    page = j.page

    sign_in_with_the_form(j, team, "alex")
    j.visit("approvals", lambda: nav(j, "Approvals").click())
    assert "Parameterize the payments query" in page.locator("main table").inner_text()
    j.visit(
        "fix-to-approve",
        lambda: page.get_by_role("link", name="Parameterize the payments query").click(),
    )
    page.locator("table.diff").first.wait_for()
    assert "Reviewed, tests pass." in page.locator("main").inner_text()
    page.get_by_label("Comment").first.fill("Looks right.")
    j.visit("approved", lambda: page.get_by_role("button", name="Approve").click())
    # By default approving leaves the fix approved; opening the pull requests is a step.
    assert not PullRequestOpening.objects.exists()
    j.visit(
        "open-pull-requests",
        lambda: page.get_by_role("button", name="Open pull requests").click(),
    )

    # The approval card polls while the pull request is opened; its link appears.
    link = page.locator("#pull-requests a").first
    j.wait_until(lambda: link.count() > 0, what="the pull request link")
    j.check("pull-request-opened")
    assert "/pull/" in (link.get_attribute("href") or "")
    assert PullRequestOpening.objects.get().status == "opened"
    assert FixApproval.objects.get(fix=fix).status == FixApproval.Status.APPROVED

    j.visit("fixes", lambda: nav(j, "Fixes").click())
    assert "Parameterize the payments query" in page.locator("main").inner_text()
    j.visit("approvals-approved", lambda: nav(j, "Approvals").click())
    assert page.console_errors == []
    j.assert_accessible()


def test_a_dismissal_is_asked_by_a_triager_and_approved_by_an_approver(
    journey, background, live_server, team, member
):
    """With the team requiring approval for dismissals: a triager asks to ignore a finding
    until a date, an approver approves it from the inbox, and the finding is ignored in
    Kolega and in the mirror, with the request in its timeline."""
    from datetime import timedelta

    from django.utils import timezone

    from sandbox.models import Finding as SandboxFinding
    from triage.models import DismissalRequest, TeamApprovalPolicy

    connection = connect_demo_organization(team, live_server, slug="acme-dismissal")
    TeamApprovalPolicy.objects.update_or_create(
        team=team, defaults={"dismissals_require_approval": True}
    )
    member(Role.TRIAGER, username="tina")
    member(Role.APPROVER, username="alex")
    finding = Finding.objects.filter(connection=connection, status="open").order_by("pk").first()
    until = (timezone.now() + timedelta(days=30)).date()
    j = journey(background)
    page = j.page

    sign_in_with_the_form(j, team, "tina")
    j.visit("finding", team_url(team, "finding", finding_id=finding.pk))
    # Ignored and False positive are not plain buttons while the team requires approval.
    assert page.get_by_role("button", name="Ignored", exact=True).count() == 0
    page.get_by_text("Dismiss… (needs approval)").click()
    page.get_by_label("Set to").select_option("ignored")
    page.get_by_label("Reason for the approver").fill("Test fixture, never deployed.")
    page.get_by_label("Ignore until").fill(until.isoformat())
    j.visit("dismissal-sent", lambda: page.get_by_role("button", name="Send for approval").click())
    assert "Sent for approval" in page.locator("body").inner_text()
    request = DismissalRequest.objects.get()
    assert request.status == DismissalRequest.Status.PENDING
    finding.refresh_from_db()
    assert finding.status == "open"  # nothing changes before the approval

    page.context.clear_cookies()
    sign_in_with_the_form(j, team, "alex")
    j.visit("approvals", lambda: nav(j, "Approvals").click())
    row = page.locator("#approvals-table tr", has_text="Test fixture, never deployed.")
    assert "Until" in row.inner_text()
    j.visit("dismissal-request", lambda: row.get_by_role("link").first.click())
    page.get_by_label("Comment").fill("Agreed.")
    j.visit("dismissal-approved", lambda: page.get_by_role("button", name="Approve").click())

    j.wait_until(
        lambda: (
            DismissalRequest.objects.get(pk=request.pk).status == DismissalRequest.Status.APPLIED
        ),
        what="the dismissal to be applied",
    )
    j.visit("dismissal-applied", team_url(team, "approvals-dismissal", dismissal_id=request.pk))
    assert "1 changed" in page.locator("#dismissal-progress").inner_text()
    finding.refresh_from_db()
    assert finding.status == "ignored"
    assert SandboxFinding.objects.get(id=finding.upstream_id).status == "ignored"

    j.visit("finding-ignored", team_url(team, "finding", finding_id=finding.pk))
    assert f"request #{request.pk}" in page.locator("main").inner_text()
    assert page.console_errors == []
    j.assert_accessible()
