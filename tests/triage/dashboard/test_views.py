"""The team dashboard and its fragments: empty states, open findings per repository, last
scans, active batches, quota meters, pull requests; roles, isolation and query budget."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    FindingFactory,
    KolegaConnectionFactory,
    PullRequestFactory,
    RepositoryFactory,
    ScanBatchFactory,
)
from triage.models import Role, SyncRun, SyncState

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def url(name, team):
    return reverse(name, kwargs={"team_slug": team.slug})


def synced_connection(team, **kwargs):
    connection = KolegaConnectionFactory(team=team, **kwargs)
    SyncState.objects.create(
        connection=connection,
        last_success_at=timezone.now() - timedelta(minutes=3),
        last_full_sync_at=timezone.now() - timedelta(minutes=30),
    )
    return connection


@pytest.fixture
def connection(team):
    return synced_connection(team, name="Acme")


@pytest.fixture
def viewer(member, client_as):
    return client_as(member(Role.VIEWER))


def test_without_connection_admins_are_sent_to_settings(team, member, client_as):
    admin_body = client_as(member(Role.ADMIN)).get(url("dashboard", team)).content.decode()
    viewer_body = client_as(member(Role.VIEWER)).get(url("dashboard", team)).content.decode()

    settings_url = url("settings-connections", team)
    assert "No Kolega organization is connected yet" in admin_body
    assert f'class="btn btn-primary" href="{settings_url}"' in admin_body
    assert "Ask one of them" in viewer_body and settings_url in viewer_body
    assert url("scan-new", team) not in admin_body


def test_first_sync_in_progress_is_shown_and_polled(team, viewer):
    connection = KolegaConnectionFactory(team=team, name="Acme")
    SyncRun.objects.create(
        connection=connection,
        team=team,
        kind=SyncRun.Kind.FULL,
        status=SyncRun.Status.RUNNING,
        phase="Findings of payments-api",
        rows_written=1200,
        requests=14,
    )

    page = viewer.get(url("dashboard", team))
    fragment = viewer.get(url("dashboard-first-sync", team), **HX)

    body = page.content.decode()
    assert page.status_code == 200 and "<html" in body
    assert "First sync" in body and "Findings of payments-api" in body and "1200 rows" in body
    assert url("dashboard-first-sync", team) in body and 'hx-trigger="every 2s"' in body
    assert "<h2>Repositories</h2>" not in body  # the overview waits for the sync
    assert fragment.status_code == 200
    assert "<html" not in fragment.content.decode() and "HX-Refresh" not in fragment

    SyncState.objects.create(connection=connection, last_success_at=timezone.now())
    done = viewer.get(url("dashboard-first-sync", team), **HX)
    assert done["HX-Refresh"] == "true"


def test_open_findings_per_repository_and_severity(team, other_team, connection, viewer):
    payments = RepositoryFactory(team=team, connection=connection, name="payments-api")
    frontend = RepositoryFactory(team=team, connection=connection, name="web-frontend")
    for severity, count in (("critical", 2), ("high", 3), ("low", 1)):
        FindingFactory.create_batch(count, repository=payments, severity=severity)
    FindingFactory(repository=payments, severity="critical", status="resolved")
    FindingFactory.create_batch(4, repository=frontend, severity="medium")
    FindingFactory.create_batch(9, repository=RepositoryFactory(team=other_team), severity="high")

    response = viewer.get(url("dashboard", team))

    body = response.content.decode()
    assert response.status_code == 200
    overview = response.context["overview"]
    rows = {row.repository.name: dict(row.severity_cells()) for row in overview.rows}
    assert rows == {
        "payments-api": {"critical": 2, "high": 3, "medium": 0, "low": 1, "info": 0},
        "web-frontend": {"critical": 0, "high": 0, "medium": 4, "low": 0, "info": 0},
    }
    assert [row.repository.name for row in overview.rows] == ["payments-api", "web-frontend"]
    assert dict(overview.open_by_severity) == {"critical": 2, "high": 3, "medium": 4, "low": 1}
    assert (
        f"?repository={payments.pk}&amp;status=open&amp;status=needs_manual_review"
        "&amp;severity=critical" in body
    )
    assert "Data as of" in body


def test_last_scan_of_each_type_and_its_outcome(team, connection, viewer):
    repository = RepositoryFactory(team=team, connection=connection, name="payments-api")
    now = timezone.now()
    ScanBatchFactory(
        repository=repository,
        scan_type="semgrep_scan",
        status="failed",
        created_at=now - timedelta(days=2),
    )
    latest = ScanBatchFactory(
        repository=repository,
        scan_type="semgrep_scan",
        status="completed",
        created_at=now - timedelta(hours=1),
    )
    secrets = ScanBatchFactory(
        repository=repository,
        scan_type="secrets_scan",
        status="partial_failure",
        created_at=now - timedelta(days=1),
    )

    response = viewer.get(url("dashboard", team))

    row = response.context["overview"].rows[0]
    cells = dict(row.scan_cells())
    assert cells["semgrep_scan"].pk == latest.pk
    assert cells["secrets_scan"].pk == secrets.pk
    assert cells["sbom_scan"] is None and cells["deep_ai_scan"] is None
    body = response.content.decode()
    assert "Partial failure" in body and "never" in body
    scans = reverse("scans", kwargs={"team_slug": team.slug})
    assert f'<a class="state-completed" href="{scans}{latest.pk}/">Completed</a>' in body
    partial = f'<a class="state-partial_failure" href="{scans}{secrets.pk}/">Partial failure</a>'
    assert partial in body


def test_repository_names_are_escaped_in_the_table(team, connection, viewer):
    hostile = RepositoryFactory(team=team, connection=connection, name='<img src=x onerror="1">')
    FindingFactory(repository=hostile, severity="high")

    body = viewer.get(url("dashboard", team)).content.decode()

    assert '<img src=x onerror="1">' not in body
    repositories = reverse("repositories", kwargs={"team_slug": team.slug})
    assert (
        f'<a href="{repositories}{hostile.pk}/" data-repository-link>'
        "&lt;img src=x onerror=&quot;1&quot;&gt;</a>"
    ) in body
    assert 'aria-label="1 open High">1</a>' in body


def test_active_batches_poll_and_stop_when_none_is_left(team, connection, viewer):
    repository = RepositoryFactory(team=team, connection=connection, name="payments-api")
    batch = ScanBatchFactory(
        repository=repository, scan_type="sbom_scan", status="scanning", percent_complete=35.0
    )

    page = viewer.get(url("dashboard", team)).content.decode()
    fragment = viewer.get(url("dashboard-active", team), **HX)

    assert 'id="active-batches"' in page and url("dashboard-active", team) in page
    assert 'value="35"' in page
    assert fragment.status_code == 200
    assert 'hx-trigger="every 2s"' in fragment.content.decode()
    assert "<html" not in fragment.content.decode()

    batch.status = "completed"
    batch.save()
    final = viewer.get(url("dashboard-active", team), **HX)
    assert final.status_code == 286
    assert "No scan is running" in final.content.decode()
    assert 'hx-trigger="every' not in final.content.decode()


def test_recent_pull_requests_with_merge_status(team, other_team, connection, viewer):
    repository = RepositoryFactory(team=team, connection=connection)
    PullRequestFactory(
        fix__repository=repository,
        repo_full_name="acme/payments-api",
        pr_number=7,
        merge_status="merged",
        merged_at=timezone.now(),
    )
    PullRequestFactory(fix__repository=RepositoryFactory(team=other_team), pr_number=99)

    body = viewer.get(url("dashboard", team)).content.decode()

    assert "acme/payments-api#7" in body and "https://github.com/acme/payments-api/pull/7" in body
    assert "Merged" in body
    assert "#99" not in body


def test_start_button_only_for_triagers(team, connection, member, client_as):
    start = url("scan-new", team)
    assert start not in client_as(member(Role.VIEWER)).get(url("dashboard", team)).content.decode()
    assert start in client_as(member(Role.TRIAGER)).get(url("dashboard", team)).content.decode()


def test_failing_sync_is_flagged_as_stale(team, viewer):
    connection = synced_connection(team, name="Acme")
    SyncState.objects.filter(connection=connection).update(
        last_error="Kolega is unreachable", last_error_at=timezone.now()
    )
    body = viewer.get(url("dashboard", team)).content.decode()
    assert "Acme: the last sync failed" in body and "Data may be stale" in body


def test_dashboard_query_count_does_not_grow_with_repositories(
    team, connection, viewer, django_assert_max_num_queries
):
    def populate(count):
        for _ in range(count):
            repository = RepositoryFactory(team=team, connection=connection)
            FindingFactory(repository=repository)
            ScanBatchFactory(repository=repository, status="scanning")
            PullRequestFactory(fix__repository=repository)

    populate(2)
    with django_assert_max_num_queries(20) as few:
        viewer.get(url("dashboard", team))
    populate(20)
    with django_assert_max_num_queries(len(few.captured_queries)):
        viewer.get(url("dashboard", team))


def test_fragments_opened_as_pages_lead_to_the_dashboard(team, connection, viewer):
    for name in ("dashboard-active", "dashboard-quota", "dashboard-first-sync"):
        response = viewer.get(url(name, team))
        assert response.status_code == 302 and response["Location"] == url("dashboard", team)


def test_dashboard_refuses_posts(team, connection, member, client_as):
    assert client_as(member(Role.ADMIN)).post(url("dashboard", team)).status_code == 405


def test_other_teams_members_get_404(team, other_team, connection, member, client_as):
    outsider = client_as(member(Role.ADMIN, of=other_team))
    for name in ("dashboard", "dashboard-active", "dashboard-quota", "dashboard-first-sync"):
        assert outsider.get(url(name, team), **HX).status_code == 404
