"""Scan pages and fragments over mirror rows: full page without HX-Request, fragment with it,
team isolation, roles, polling that stops at a terminal status."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import (
    FindingFactory,
    KolegaConnectionFactory,
    RepositoryFactory,
    ScanBatchFactory,
    link,
)
from tests.pages import HTMX, team_url
from triage.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def repository(team):
    connection = KolegaConnectionFactory(team=team, name="Acme")
    return RepositoryFactory(team=team, connection=connection, name="payments-api")


@pytest.fixture
def viewer_client(member, client_as):
    return client_as(member(Role.VIEWER))


# The batch list


def test_list_shows_the_teams_batches_newest_first(team, other_team, repository, viewer_client):
    old = ScanBatchFactory(
        repository=repository, scan_type="secrets_scan", created_at=timezone.now() - timedelta(1)
    )
    new = ScanBatchFactory(repository=repository, scan_type="sbom_scan", status="scanning")
    foreign = ScanBatchFactory(repository=RepositoryFactory(team=other_team, name="red-secret"))

    response = viewer_client.get(team_url("scans", team))

    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" in body and 'id="scan-table"' in body
    assert body.index(team_url("scan-batch", team, batch_id=new.pk)) < body.index(
        team_url("scan-batch", team, batch_id=old.pk)
    )
    assert "red-secret" not in body
    assert team_url("scan-batch", team, batch_id=foreign.pk) not in body
    assert response["Vary"] and "HX-Request" in response["Vary"]


def test_list_fragment_filters_by_repository_type_and_status(team, repository, viewer_client):
    other = RepositoryFactory(team=team, connection=repository.connection, name="web-frontend")
    wanted = ScanBatchFactory(repository=repository, scan_type="semgrep_scan", status="scanning")
    ScanBatchFactory(repository=repository, scan_type="semgrep_scan", status="completed")
    ScanBatchFactory(repository=repository, scan_type="secrets_scan", status="scanning")
    ScanBatchFactory(repository=other, scan_type="semgrep_scan", status="scanning")

    response = viewer_client.get(
        team_url("scans", team),
        {"repository": repository.pk, "scan_type": "semgrep_scan", "status": "active"},
        **HTMX,
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body and body.strip().startswith('<section class="card" id="scan-table"')
    assert body.count('href="/t/blue/scans/') == 1
    assert team_url("scan-batch", team, batch_id=wanted.pk) in body


def test_list_is_paginated_with_bounded_queries(
    team, repository, viewer_client, django_assert_max_num_queries
):
    for _ in range(30):
        ScanBatchFactory(repository=repository)

    with django_assert_max_num_queries(15):  # incl. the staleness banner
        first = viewer_client.get(team_url("scans", team))
    second = viewer_client.get(team_url("scans", team), {"page": 2})

    assert "1–25 of 30" in first.content.decode()
    assert "26–30 of 30" in second.content.decode()


def test_list_offers_start_only_to_triagers(team, repository, member, client_as):
    start = team_url("scan-new", team)
    assert start not in client_as(member(Role.VIEWER)).get(team_url("scans", team)).content.decode()
    assert start in client_as(member(Role.TRIAGER)).get(team_url("scans", team)).content.decode()


def test_list_empty_state_says_what_to_do(team, member, client_as):
    body = client_as(member(Role.TRIAGER)).get(team_url("scans", team)).content.decode()
    assert "No scan batch yet" in body and team_url("scan-new", team) in body


# One batch


def test_batch_page_shows_progress_and_source_repos_while_polling(team, repository, viewer_client):
    batch = ScanBatchFactory(
        repository=repository,
        status="scanning",
        percent_complete=42.0,
        total_repositories=2,
        scans_completed=1,
        next_poll_at=timezone.now(),
        progress_repositories=[
            {
                "repository": "acme/payments-api",
                "branch": "main",
                "status": "succeeded",
                "status_reason": None,
                "findings_count": 3,
            },
            {
                "repository": "acme/payments-worker",
                "branch": "main",
                "status": "running",
                "status_reason": "cloning",
                "findings_count": None,
            },
        ],
    )

    page = viewer_client.get(team_url("scan-batch", team, batch_id=batch.pk))
    fragment = viewer_client.get(team_url("scan-batch", team, batch_id=batch.pk), **HTMX)

    body = page.content.decode()
    assert page.status_code == 200 and "<html" in body
    assert 'value="42"' in body and "acme/payments-worker" in body and "cloning" in body
    assert 'hx-trigger="every 2s"' in body
    assert "batch-results" not in body  # no results before the batch is terminal
    assert fragment.status_code == 200
    fragment_body = fragment.content.decode()
    assert "<html" not in fragment_body and 'id="batch-progress"' in fragment_body
    assert 'hx-trigger="every 2s"' in fragment_body
    assert "HX-Request" in fragment["Vary"]


def test_terminal_batch_stops_polling_and_shows_results(team, repository, viewer_client):
    batch = ScanBatchFactory(
        repository=repository, status="completed", findings_synced_at=timezone.now()
    )
    findings = [
        FindingFactory(repository=repository, severity="critical", check_id="secrets.aws"),
        FindingFactory(repository=repository, severity="high", check_id="py.sqli"),
        FindingFactory(repository=repository, severity="high", check_id="py.sqli"),
    ]
    link(batch, *findings)
    FindingFactory(repository=repository, severity="low", check_id="not.in.batch")

    fragment = viewer_client.get(team_url("scan-batch", team, batch_id=batch.pk), **HTMX)
    page = viewer_client.get(team_url("scan-batch", team, batch_id=batch.pk))

    assert fragment.status_code == 286
    body = fragment.content.decode()
    assert 'hx-trigger="every' not in body
    assert "Triage these 3 findings" in body
    assert f"{team_url('findings', team)}?batch={batch.pk}" in body
    assert "py.sqli" in body and "secrets.aws" in body and "not.in.batch" not in body
    assert page.status_code == 200 and 'hx-trigger="every' not in page.content.decode()


def test_terminal_batch_keeps_polling_until_its_findings_are_mirrored(
    team, repository, viewer_client
):
    batch = ScanBatchFactory(repository=repository, status="completed", next_poll_at=timezone.now())

    fragment = viewer_client.get(team_url("scan-batch", team, batch_id=batch.pk), **HTMX)

    assert fragment.status_code == 200
    assert 'hx-trigger="every 2s"' in fragment.content.decode()


def test_batch_of_another_team_is_404(team, other_team, viewer_client):
    foreign = ScanBatchFactory(repository=RepositoryFactory(team=other_team))
    assert viewer_client.get(team_url("scan-batch", team, batch_id=foreign.pk)).status_code == 404
    assert (
        viewer_client.get(team_url("scan-batch", team, batch_id=foreign.pk), **HTMX).status_code
        == 404
    )


def test_read_only_pages_refuse_posts(team, repository, member, client_as):
    batch = ScanBatchFactory(repository=repository)
    client = client_as(member(Role.ADMIN))
    assert client.post(team_url("scans", team)).status_code == 405
    assert client.post(team_url("scan-batch", team, batch_id=batch.pk)).status_code == 405


# Started batches


def test_started_page_leaves_out_values_that_are_no_key(team, repository, viewer_client):
    batch = ScanBatchFactory(repository=repository, status="scanning", percent_complete=10)
    query = f"?batch={2**70}&batch=-{2**70}&batch={batch.pk}"

    response = viewer_client.get(team_url("scan-started", team) + query)

    assert response.status_code == 200
    assert team_url("scan-batch", team, batch_id=batch.pk) in response.content.decode()


def test_started_page_polls_until_every_batch_settles(team, other_team, repository, viewer_client):
    running = ScanBatchFactory(repository=repository, status="scanning", percent_complete=10)
    done = ScanBatchFactory(
        repository=repository, status="completed", findings_synced_at=timezone.now()
    )
    foreign = ScanBatchFactory(repository=RepositoryFactory(team=other_team, name="red-repo"))
    query = f"?batch={running.pk}&batch={done.pk}&batch={foreign.pk}"

    page = viewer_client.get(team_url("scan-started", team) + query)
    fragment = viewer_client.get(team_url("scan-started", team) + query, **HTMX)

    body = page.content.decode()
    assert page.status_code == 200 and "<html" in body
    assert team_url("scan-batch", team, batch_id=running.pk) in body
    assert team_url("scan-batch", team, batch_id=done.pk) in body
    assert "red-repo" not in body
    assert 'hx-trigger="every 2s"' in body
    assert fragment.status_code == 200 and "<html" not in fragment.content.decode()

    running.status = "completed"
    running.findings_synced_at = timezone.now()
    running.save()
    final = viewer_client.get(team_url("scan-started", team) + query, **HTMX)
    assert final.status_code == 286
    assert "Every batch has finished" in final.content.decode()
