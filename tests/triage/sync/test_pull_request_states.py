"""Pull requests merged or closed in Kolega reach the mirror and the pages with the next
incremental sync: `fix_pr_updated` refreshes the fix, `resolved_pr_linked` the findings."""

import sys
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from tests.conftest import SANDBOX_BASE_URL, sandbox_connection
from tests.sandbox.conftest import TINY_TREES
from tests.sandbox.fake_scanner import as_module
from tests.sandbox_rows import payments_repository
from tests.triage.sync.mirror_equality import mirror_differences
from triage.kolega import KolegaClient, iter_all
from triage.models import Finding, FindingEvent, Fix, KolegaConnection, PullRequest, Role, SyncRun
from triage.sync import sync_connection_full, sync_connection_incremental

pytestmark = pytest.mark.django_db


@pytest.fixture
def tiny_org(db, monkeypatch, sandbox_clock):
    """An organization whose secrets and SAST scans both flag each hard-coded password."""
    from sandbox.services.organizations import organization_create

    monkeypatch.setitem(sys.modules, "sandbox.scanning", as_module())
    # Everything below happens within the last hour, not ahead of the reports' "now".
    sandbox_clock.freeze(datetime.now(UTC) - timedelta(hours=1))
    organization, key = organization_create(name="Acme PRs", slug="acme-prs")
    repository = payments_repository(organization, TINY_TREES)
    return organization, key, repository


@pytest.fixture
def upstream(tiny_org, sandbox_wsgi):
    with KolegaClient(
        base_url=SANDBOX_BASE_URL, api_key=tiny_org[1], transport=sandbox_wsgi
    ) as client:
        yield client


@pytest.fixture
def connection(team, tiny_org, sandbox_transport) -> KolegaConnection:
    organization, key, _ = tiny_org
    return sandbox_connection(team, organization, key)


def _incremental(connection) -> SyncRun:
    run = sync_connection_incremental(connection=connection)
    assert run.kind == SyncRun.Kind.INCREMENTAL
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    return run


@pytest.fixture
def merged_and_closed(connection, upstream, tiny_org, sandbox_clock, sandbox_control):
    """Two fixes with a pull request each, mirrored while open; then one merged, one closed."""
    _, _, repository = tiny_org
    for scan_type in ("secrets_scan", "semgrep_scan"):
        upstream.create_scan(repository_id=str(repository.id), scan_type=scan_type)
        sandbox_clock.advance(30)
    findings = list(iter_all(upstream.list_findings, repository_id=str(repository.id)))
    secret = {f.file_path: f for f in findings if f.scan_type == "secrets_scan"}
    fixes = {
        path: upstream.create_fix(
            repository_id=str(repository.id),
            finding_ids=[secret[path].id],
            title=f"Fix {path}",
            instructions="Use os.environ",
            source_repo="acme/api",
        )
        for path in ("app/settings.py", "app/db.py")
    }
    sandbox_clock.advance(600)
    pull_requests = {
        path: upstream.create_pull_requests(
            repository_id=str(repository.id), fix_id=fix.id
        ).pull_requests[0]
        for path, fix in fixes.items()
    }
    sync_connection_full(connection=connection)
    assert set(PullRequest.objects.values_list("merge_status", flat=True)) == {"open"}

    sandbox_clock.advance(60)
    merged = sandbox_control("merge", pull_requests["app/settings.py"].pr_url)
    closed = sandbox_control("close", pull_requests["app/db.py"].pr_url)
    assert (merged["merge_status"], closed["merge_status"]) == ("merged", "closed")
    run = _incremental(connection)
    return {
        "run": run,
        "findings": findings,
        "merged_fix": Fix.objects.get(upstream_id=fixes["app/settings.py"].id),
        "closed_fix": Fix.objects.get(upstream_id=fixes["app/db.py"].id),
    }


def test_incremental_sync_mirrors_merged_and_closed_pull_requests(
    connection, upstream, merged_and_closed
):
    merged_fix, closed_fix = merged_and_closed["merged_fix"], merged_and_closed["closed_fix"]
    merged = merged_fix.pull_requests.get()
    closed = closed_fix.pull_requests.get()
    assert merged.merge_status == PullRequest.MergeStatus.MERGED and merged.merged_at
    assert closed.merge_status == PullRequest.MergeStatus.CLOSED and closed.merged_at is None
    assert mirror_differences(connection, upstream) == []

    status = {
        (f.scan_type, f.file_path): f.status for f in Finding.objects.filter(connection=connection)
    }
    # The merged fix's finding, and the SAST finding on the line it rewrote (linked).
    assert status[("secrets_scan", "app/settings.py")] == "resolved"
    assert status[("semgrep_scan", "app/settings.py")] == "resolved"
    # The closed pull request changed nothing.
    assert status[("secrets_scan", "app/db.py")] == "open"
    assert status[("semgrep_scan", "app/db.py")] == "open"

    events = FindingEvent.objects.filter(connection=connection)
    updated = events.filter(event_type="fix_pr_updated")
    assert sorted(e.metadata["merge_status"] for e in updated) == ["closed", "merged"]
    linked = events.get(event_type="resolved_pr_linked")
    assert linked.metadata["fix_id"] == merged_fix.upstream_id
    assert linked.metadata["pr_url"] == merged.pr_url

    # Nothing new upstream: the next sync writes nothing.
    assert _incremental(connection).rows_written == 0


def test_a_linked_resolution_alone_refreshes_the_fix(connection, upstream, merged_and_closed):
    """A new resolved_pr_linked alone (its fix_pr_updated already mirrored, say) still
    brings the fix's pull requests up to date."""
    merged_fix = merged_and_closed["merged_fix"]
    PullRequest.objects.filter(fix=merged_fix).update(merge_status="open", merged_at=None)
    # Only the linked event is new to the mirror now.
    FindingEvent.objects.filter(connection=connection, event_type="resolved_pr_linked").delete()

    _incremental(connection)

    assert merged_fix.pull_requests.get().merge_status == "merged"


def test_pages_show_merged_and_closed_pull_requests(team, member, client_as, merged_and_closed):
    merged_fix, closed_fix = merged_and_closed["merged_fix"], merged_and_closed["closed_fix"]
    client = client_as(member(Role.VIEWER))

    def fix_page(fix):
        response = client.get(
            reverse("fixes-detail", kwargs={"team_slug": team.slug, "fix_id": fix.pk})
        )
        assert response.status_code == 200
        return response.content.decode()

    merged_page = fix_page(merged_fix)
    assert '<span class="state-completed">Merged</span>' in merged_page
    closed_page = fix_page(closed_fix)
    assert '<span class="state-cancelled">Closed</span>' in closed_page
    assert "Merged" not in closed_page.split('id="pull-requests"')[1].split("</ul>")[0]

    dashboard = client.get(reverse("dashboard", kwargs={"team_slug": team.slug}))
    assert dashboard.status_code == 200
    recent = dashboard.content.decode().split("Recent pull requests")[1].split("</table>")[0]
    rows = {row.split("</a>")[0].rsplit(">", 1)[1]: row for row in recent.split("<tr>")[2:]}
    assert set(rows) == {"acme/api#1", "acme/api#2"}
    merged_pr = merged_fix.pull_requests.get()
    assert '<span class="state-completed">Merged</span>' in rows[f"acme/api#{merged_pr.pr_number}"]
    closed_pr = closed_fix.pull_requests.get()
    assert '<span class="state-cancelled">Closed</span>' in rows[f"acme/api#{closed_pr.pr_number}"]

    funnel = client.get(reverse("reports", kwargs={"team_slug": team.slug}))
    assert funnel.status_code == 200
    html = funnel.content.decode().split('id="h-funnel"')[1].split("Approval lead time")[0]
    steps = {
        cells[0]: int(cells[1])
        for row in html.split("<tr>")[2:]
        if (cells := [c.split(">", 1)[1].split("<")[0] for c in row.split("<td")[1:3]])
    }
    assert steps["Fixes started"] == 2
    assert steps["Pull requests opened"] == 2
    assert steps["Merged"] == 1
    assert 'id="funnel-closed">Pull requests closed without merging: <strong>1</strong>' in html
