import csv
import io

import pytest
from django.urls import reverse

from tests.factories import (
    T0,
    FindingEventFactory,
    FindingFactory,
    RepositoryFactory,
    ScanBatchFactory,
)
from triage.models import Role

pytestmark = pytest.mark.django_db


def url(name, team, query=""):
    return reverse(name, kwargs={"team_slug": team.slug}) + (f"?{query}" if query else "")


@pytest.fixture
def mirrored(team):
    repository = RepositoryFactory(at=T0, team=team, name="payments")
    finding = FindingFactory(
        at=T0, repository=repository, severity="critical", title="=cmd|'/c calc'!A1"
    )
    FindingEventFactory(at=T0, finding=finding, event_timestamp=finding.first_detected_at)
    ScanBatchFactory(at=T0, repository=repository)
    return repository


def test_every_role_reads_the_report_page_and_fragment(team, member, client_as, mirrored):
    client = client_as(member(Role.VIEWER))
    response = client.get(url("reports", team))
    assert response.status_code == 200
    body = response.content.decode()
    assert "<svg" in body and "payments" in body
    assert 'style="' not in body and "<style" not in body
    assert "HX-Request" in response["Vary"]
    fragment = client.get(url("reports", team, "period=7"), headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert b'id="report"' in fragment.content and b"<html" not in fragment.content


@pytest.mark.parametrize(
    "query",
    [
        "period=12",
        "period=custom&start=2026-02-01",
        "period=custom&start=2026-03-01&end=2026-02-01",
        "start=not-a-date&end=2026-01-01&period=custom",
        "repository=999999",
        "repository=abc",
        "coverage_days=0",
        "coverage_days=x",
    ],
)
def test_bad_filters_answer_400_with_a_form_error_and_the_default_report(
    team, member, client_as, mirrored, query
):
    response = client_as(member(Role.VIEWER)).get(url("reports", team, query))
    assert response.status_code == 400
    assert b"form-errors" in response.content
    assert b"Last 30 days" in response.content


def test_other_teams_repository_is_refused(team, other_team, member, client_as, mirrored):
    theirs = RepositoryFactory(at=T0, team=other_team, name="their-secret-repo")
    response = client_as(member(Role.VIEWER)).get(url("reports", team, f"repository={theirs.pk}"))
    assert response.status_code == 400
    assert b"their-secret-repo" not in response.content


def test_non_member_gets_404(team, other_team, member, client_as, mirrored):
    outsider = member(Role.ADMIN, of=other_team)
    for name in ("reports", "reports-sla-policy", "reports-export-findings"):
        assert client_as(outsider).get(url(name, team)).status_code == 404


def test_findings_csv_neutralises_formulas(team, member, client_as, mirrored):
    response = client_as(member(Role.VIEWER)).get(url("reports-export-findings", team))
    assert response.status_code == 200
    assert response.streaming
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][0] == "finding_id"
    assert rows[1][rows[0].index("title")] == "'=cmd|'/c calc'!A1"


def test_sla_drill_down_page_and_fragment(team, member, client_as, mirrored):
    client = client_as(member(Role.VIEWER))
    page = client.get(url("reports-sla", team, "kind=breached&severity=critical"))
    assert page.status_code == 200
    assert b"payments" in page.content
    fragment = client.get(url("reports-sla", team, "kind=breached"), headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and b"<html" not in fragment.content
    assert client.get(url("reports-sla", team, "kind=nope")).status_code == 400


def test_report_page_queries_do_not_grow_with_repositories(
    team, member, client_as, mirrored, django_assert_max_num_queries
):
    client = client_as(member(Role.VIEWER))
    client.get(url("reports", team))  # the first visit builds the snapshots
    for index in range(30):
        repository = RepositoryFactory(
            at=T0, team=team, connection=mirrored.connection, name=f"service-{index}"
        )
        FindingFactory(at=T0, repository=repository)
        ScanBatchFactory(at=T0, repository=repository, scan_type="sbom_scan")
    with django_assert_max_num_queries(31):
        response = client.get(url("reports", team, "period=90"))
    assert response.status_code == 200
    assert b"service-29" in response.content
    with django_assert_max_num_queries(31):
        scoped = client.get(url("reports", team, f"repository={mirrored.pk}"))
    assert scoped.status_code == 200
    assert f'<option value="{mirrored.pk}" selected>payments</option>'.encode() in scoped.content
    assert b'<option value="" selected' not in scoped.content


def test_a_large_history_is_replayed_by_the_task_not_the_request(
    team, member, client_as, mirrored, monkeypatch, django_capture_on_commit_callbacks
):
    from triage.models import DailyFindingSnapshot, ReportSnapshotState
    from triage.services import reports as report_services
    from triage.tasks import report_snapshots_refresh

    monkeypatch.setattr(report_services, "INLINE_REBUILD_MAX_EVENTS", 0)
    queued = []
    monkeypatch.setattr(report_snapshots_refresh, "delay", queued.append)
    client = client_as(member(Role.VIEWER))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(url("reports", team))
    assert response.status_code == 200
    assert b"Trends are being rebuilt" in response.content
    assert queued == [team.pk]
    assert not ReportSnapshotState.objects.filter(team=team).exists()

    assert report_snapshots_refresh(team.pk) > 0  # the task, run here in-process
    assert DailyFindingSnapshot.objects.filter(team=team, severity="critical").exists()
    assert b"Trends are being rebuilt" not in client.get(url("reports", team)).content
