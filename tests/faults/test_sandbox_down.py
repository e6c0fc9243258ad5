"""Kolega down: every page still renders from the mirror and says the data may be stale; every
write that needs Kolega says it is unreachable and changes nothing in the portal.

"Down" is real: the connection points at a local port nobody listens on and requests go over
the network, so the portal meets the same connection refusals it would in production. The
pages are every team URL of the resolver (``tests/security/urlmap.py``), with real objects of
a mirrored organization behind their ids, so a page added later is covered without a change.
"""

from __future__ import annotations

import re
import socket
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from tests.fixes_started import fix_started
from tests.security.urlmap import VictimWorld, all_urls, url_of
from tests.triage.sync.mirror_equality import mirror_snapshot
from triage.clients import override_transport
from triage.models import (
    Finding,
    FindingStatusJob,
    FindingStatusJobItem,
    Fix,
    FixApproval,
    FixDiffVersion,
    KolegaConnection,
    PullRequest,
    PullRequestOpening,
    ScanBatch,
    ScanBatchFinding,
    SyncRun,
    SyncState,
)
from triage.services.approvals import approval_decide, approval_request, pull_requests_open
from triage.services.findings import finding_status_job_create
from triage.sync import sync_connection_full, sync_connection_incremental

pytestmark = pytest.mark.django_db

TEAM_URLS = [entry for entry in all_urls() if entry.category == "team"]
# Writes say Kolega is unreachable; a key check and a sync say the address could not be reached.
UNREACHABLE = ("Kolega is unreachable", "Could not reach the address")
STALE_MARKER = "data-stale-notice"


def _url(team, name: str, **kwargs) -> str:
    return reverse(name, kwargs={"team_slug": team.slug, **kwargs})


def _closed_port() -> int:
    with socket.socket() as probe:  # bound, never listening, closed: nobody answers there
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def kolega_down(connection: KolegaConnection):
    """The connection's Kolega at a port nobody listens on, reached over the real network."""
    port = _closed_port()
    base_url = f"http://127.0.0.1:{port}"
    KolegaConnection.objects.filter(pk=connection.pk).update(base_url=base_url)
    connection.base_url = base_url
    with override_transport(None):
        yield base_url


STALE_BANNER = re.compile(r"<div[^>]*data-stale-notice[^>]*>.*?</div>", re.S)


def _without_stale_banner(text: str) -> str:
    """The page without the staleness banner, which names the last sync's error."""
    return STALE_BANNER.sub("", text)


def _body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def _is_full_page(response, body: str) -> bool:
    return response.get("Content-Type", "").startswith("text/html") and "<html" in body


def _fix_findings(team, count: int) -> list[list[Finding]]:
    """``count`` groups of open code findings, each of one file."""
    groups = (
        Finding.objects.filter(team=team, status="open", scan_type="semgrep_scan")
        .values("repository_id", "file_path")
        .annotate(n=Count("id"))
        .order_by("-n", "repository_id", "file_path")[:count]
    )
    return [
        list(
            Finding.objects.filter(
                repository_id=g["repository_id"], status="open", file_path=g["file_path"]
            ).order_by("pk")[:2]
        )
        for g in groups
    ]


def _start(team, actor, findings) -> Fix:
    assert all(f.team == team for f in findings)
    return fix_started(actor, findings, title=f"Fix {findings[0].file_path}")


@pytest.fixture
def mirrored(team, connection, people, worker, django_capture_on_commit_callbacks):
    """A synced organization with the portal's day in it: a fix whose pull requests are open,
    a completed fix ready for approval, a running fix, a finished bulk status job."""
    assert sync_connection_full(connection=connection).status == SyncRun.Status.SUCCEEDED
    opened_findings, approvable_findings, running_findings = _fix_findings(team, 3)
    with django_capture_on_commit_callbacks(execute=True):
        opened = _start(team, people.triager, opened_findings)
        approvable = _start(team, people.triager, approvable_findings)
    worker.drain()
    opened.refresh_from_db()
    approvable.refresh_from_db()
    assert opened.status == approvable.status == "completed"
    with django_capture_on_commit_callbacks(execute=True):
        approval = approval_request(fix=opened, actor=people.triager, note="Please")
        approval_decide(approval=approval, actor=people.approver, approve=True)
        pull_requests_open(fix=opened, actor=people.triager)
    worker.drain()
    assert PullRequest.objects.filter(fix=opened).exists()
    with django_capture_on_commit_callbacks(execute=True):
        pending = approval_request(fix=approvable, actor=people.triager, note="Please")
        running = _start(team, people.triager, running_findings)
        job = finding_status_job_create(
            team=team,
            actor=people.triager,
            finding_ids=Finding.objects.filter(team=team, status="open")
            .exclude(pk__in=[f.pk for f in running_findings])
            .values_list("pk", flat=True)[:3],
            status="needs_manual_review",
        )
    worker.queue = type(worker.queue)(d for d in worker.queue if d.name != "track_fix")
    worker.drain()
    assert sync_connection_incremental(connection=connection).status == SyncRun.Status.SUCCEEDED
    worker.queue.clear()  # the running fix's tracker: nobody follows it while Kolega is down

    world = VictimWorld(team=team, owner=people.admin)
    finding = opened_findings[0]
    world.__dict__.update(
        connection=connection,
        repository=opened.repository,
        finding=finding,
        batch=ScanBatch.objects.filter(
            pk__in=ScanBatchFinding.objects.filter(finding=finding).values("scan_batch_id")
        ).first(),
        fix=opened,
        diff_version=FixDiffVersion.objects.filter(fix=opened).first()
        or FixDiffVersion.objects.create(
            team=team, fix=opened, number=1, sha256=opened.diff_sha256, diff=opened.diff
        ),
        approval=FixApproval.objects.get(fix=opened),
        pull_request=PullRequest.objects.filter(fix=opened).first(),
        status_job=FindingStatusJob.objects.get(pk=job.pk),
        sync_run=SyncRun.objects.filter(connection=connection).latest("pk"),
    )
    world.approvable, world.pending_approval, world.running = approvable, pending, running
    return world


def _sweep(client, world) -> dict[str, tuple]:
    """Every team URL as a page and as an htmx fragment: status, response and body."""
    seen = {}
    for entry in TEAM_URLS:
        url = url_of(entry, world)
        for how, headers in (("page", {}), ("htmx", {"HX-Request": "true"})):
            response = client.get(url, headers=headers)
            seen[f"{how} {entry.url_id} {url}"] = (response.status_code, response, _body(response))
    return seen


def _local_state(connection) -> dict:
    """What a refused write must leave as it was: the mirror, and the portal's own rows that
    follow Kolega's answers."""
    connection = KolegaConnection.objects.get(pk=connection.pk)
    return {
        "mirror": mirror_snapshot(connection),
        "connection": (
            connection.state,
            connection.state_reason,
            connection.organization_id,
            connection.key_prefix,
            connection.verified_at,
        ),
        "connections": KolegaConnection.objects.count(),
        "openings_opened": PullRequestOpening.objects.filter(
            status=PullRequestOpening.Status.OPENED
        ).count(),
        "diff_versions": FixDiffVersion.objects.count(),
        "job_items_done": FindingStatusJobItem.objects.exclude(
            outcome__in=[FindingStatusJobItem.Outcome.PENDING, FindingStatusJobItem.Outcome.FAILED]
        ).count(),
    }


def test_with_kolega_down_every_page_renders_from_the_mirror_and_says_it_may_be_stale(
    team, connection, mirrored, people, client_as, worker
):
    assert len(TEAM_URLS) >= 20
    admin = client_as(people.admin)
    normal = _sweep(admin, mirrored)
    full_pages = [
        key for key, (_, response, body) in normal.items() if _is_full_page(response, body)
    ]
    assert len(full_pages) >= 15
    for key in full_pages:
        # Fresh and healthy: no notice.
        assert STALE_MARKER not in normal[key][2], key

    with kolega_down(connection):
        run = sync_connection_incremental(connection=connection)
        assert run.status == SyncRun.Status.FAILED and run.error_kind == "unavailable"
        down = _sweep(admin, mirrored)

    last_success = SyncState.objects.get(connection=connection).last_success_at
    for key, (status, _response, body) in down.items():
        assert status == normal[key][0], (key, status, normal[key][0], body[:1000])
        assert status < 500, key
        if key in full_pages:
            assert STALE_MARKER in body, key
            assert "the last sync failed" in body and "Data may be stale" in body, key
            assert f'datetime="{timezone.localtime(last_success):%Y-%m-%d}' in body or (
                last_success.isoformat()[:10] in body
            ), key


def test_a_mirror_not_synced_for_a_while_is_flagged_on_every_page(
    team, connection, mirrored, people, client_as
):
    admin = client_as(people.admin)
    SyncState.objects.filter(connection=connection).update(
        last_success_at=timezone.now() - timedelta(hours=2), last_error_at=None, last_error=""
    )
    for key, (_status, response, body) in _sweep(admin, mirrored).items():
        if _is_full_page(response, body):
            assert STALE_MARKER in body and "no successful sync for a while" in body, key
            assert "data as of" in body, key
    # Recent enough: nothing said.
    SyncState.objects.filter(connection=connection).update(
        last_success_at=timezone.now() - timedelta(minutes=2)
    )
    assert STALE_MARKER not in admin.get(_url(team, "findings")).content.decode()


def test_with_kolega_down_every_write_says_it_is_unreachable_and_changes_nothing(
    team, connection, mirrored, people, act, worker, client_as, pull_requests_open_on_approval
):
    # The team's policy opens pull requests on approval, so approving writes to Kolega too.
    world = mirrored
    finding = Finding.objects.filter(team=team, status="open").order_by("pk").first()
    admin, triager, approver = act(people.admin), act(people.triager), act(people.approver)
    with kolega_down(connection) as base_url:
        before = _local_state(connection)
        said: dict[str, str] = {}

        def page_after(actor, response, url=None) -> str:
            """What the person reads after the write: the page answered, or the one it
            redirects to (where the message shows)."""
            if response.status_code in (301, 302):
                return actor.get(url or response["Location"]).content.decode()
            return response.content.decode()

        def write_drained(what, actor, url, data, read=None):
            """POST ``data`` as ``actor``, let the worker run what it queued, and note what
            the person reads then (``read``: the page to read after a redirect)."""
            response = actor.post(url, data)
            worker.drain()
            said[what] = page_after(actor, response, read)
            return response

        response = triager.post(
            _url(team, "scan-new"),
            {"repositories": [finding.repository_id], "scan_types": ["semgrep_scan"]},
        )
        assert response.status_code == 400
        said["start scan"] = page_after(triager, response)

        response = triager.post(
            _url(team, "finding", finding_id=finding.pk), {"status": "resolved"}
        )
        said["status change"] = page_after(triager, response)
        response = triager.post(
            _url(team, "finding", finding_id=finding.pk),
            {"status": "resolved"},
            headers={"HX-Request": "true"},
        )
        said["status change (table row)"] = page_after(triager, response)

        response = write_drained(
            "bulk status job",
            triager,
            _url(team, "findings-bulk"),
            {"finding": [finding.pk], "status": "resolved", "action": "submit"},
        )
        job_url = response["Location"]
        write_drained("bulk status job, retried", triager, job_url, {"action": "retry"}, job_url)

        response = triager.post(
            _url(team, "fixes-new"),
            {
                "finding": [finding.pk],
                "title": "Fix it",
                "instructions": "Use parameterized queries.",
                "source_repo": finding.repository.source_repos[0]["full_name"],
                "branch": "",
            },
        )
        assert response.status_code == 400
        said["start fix"] = page_after(triager, response)

        response = triager.post(
            _url(team, "fixes-detail", fix_id=world.running.pk), {"action": "cancel"}
        )
        said["cancel fix"] = page_after(triager, response)

        response = triager.post(
            _url(team, "fixes-detail", fix_id=world.approvable.pk),
            {"action": "refine", "instructions": "Also add a test"},
        )
        said["refine fix"] = page_after(triager, response)

        fix_url = _url(team, "fixes-detail", fix_id=world.approvable.pk)
        write_drained(
            "approve (opens pull requests)",
            approver,
            _url(team, "approvals-decide", approval_id=world.pending_approval.pk),
            {"decision": "approve", "comment": "ok"},
            fix_url,
        )
        write_drained(
            "open pull requests", triager, fix_url, {"action": "open_pull_requests"}, fix_url
        )

        response = admin.post(
            _url(team, "settings-sync"), {"connection": connection.pk, "kind": "incremental"}
        )
        worker.drain()
        # The page the admin is sent to shows the run; its retries are runs of their own.
        run = SyncRun.objects.filter(
            connection=connection, trigger=SyncRun.Trigger.MANUAL
        ).earliest("pk")
        assert response["Location"] == _url(team, "settings-sync-run", run_id=run.pk)
        assert run.status == SyncRun.Status.FAILED and run.error_kind == "unavailable"
        retries = SyncRun.objects.filter(connection=connection, pk__gt=run.pk)
        assert {r.trigger for r in retries} <= {SyncRun.Trigger.MANUAL}
        said["sync now"] = page_after(admin, response)

        response = admin.post(
            _url(team, "settings-connection", connection_id=connection.pk), {"action": "verify"}
        )
        said["verify connection"] = page_after(admin, response)

        response = admin.post(
            _url(team, "settings-connections"),
            {"name": "Second", "base_url": base_url, "api_key": "kcp_test_whatever1234"},
        )
        said["connect"] = page_after(admin, response)

        after = _local_state(connection)

    silent = [
        what
        for what, text in said.items()
        if not any(words in _without_stale_banner(text) for words in UNREACHABLE)
    ]
    assert not silent, f"these writes did not say Kolega is unreachable: {silent}"
    assert after == before
    # Approving is the portal's own decision and is kept; the pull requests it asked for are
    # not opened.
    assert FixApproval.objects.get(pk=world.pending_approval.pk).status == "approved"
    # The refused work is where people can see it and try again.
    assert PullRequestOpening.objects.get(fix=world.approvable).status in (
        PullRequestOpening.Status.FAILED,
        PullRequestOpening.Status.UNKNOWN,
    )
    assert not PullRequest.objects.filter(fix=world.approvable).exists()
    assert FindingStatusJobItem.objects.filter(
        finding=finding, outcome=FindingStatusJobItem.Outcome.FAILED
    ).exists()
