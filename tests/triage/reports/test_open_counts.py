"""One meaning of "open" everywhere: a finding that still needs work, status open or needs
manual review. The dashboard, the report page and its CSV export count the same findings,
and each page says what the count includes."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import FindingFactory, KolegaConnectionFactory, RepositoryFactory
from triage.models import Finding, Role, SyncState

pytestmark = pytest.mark.django_db


def url(name, team, query=""):
    return reverse(name, kwargs={"team_slug": team.slug}) + (f"?{query}" if query else "")


@pytest.fixture
def repository(team):
    connection = KolegaConnectionFactory(team=team, name="Acme")
    SyncState.objects.create(
        connection=connection, last_success_at=timezone.now() - timedelta(minutes=3)
    )
    repository = RepositoryFactory(team=team, connection=connection, name="payments-api")
    FindingFactory.create_batch(3, repository=repository, severity="critical", status="open")
    FindingFactory.create_batch(
        3, repository=repository, severity="critical", status="needs_manual_review"
    )
    FindingFactory(repository=repository, severity="critical", status="resolved")
    FindingFactory(repository=repository, severity="critical", status="ignored")
    return repository


def test_unresolved_is_open_and_needs_manual_review():
    assert set(Finding.UNRESOLVED_STATUSES) == {"open", "needs_manual_review"}


def test_dashboard_reports_and_csv_count_the_same_open_findings(
    team, member, client_as, repository
):
    client = client_as(member(Role.VIEWER))

    dashboard = client.get(url("dashboard", team))
    report = client.get(url("reports", team))
    exported = client.get(url("reports-export-repositories", team))

    assert dict(dashboard.context["overview"].open_by_severity)["critical"] == 6
    rows = {row.repository.name: row for row in dashboard.context["overview"].rows}
    assert rows["payments-api"].open_by_severity["critical"] == 6
    assert report.context["open_now"]["critical"] == 6
    (line,) = csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode()))
    assert line["open_critical"] == "6"


def test_each_page_says_what_open_includes(team, member, client_as, repository):
    client = client_as(member(Role.VIEWER))
    for name in ("dashboard", "reports"):
        body = client.get(url(name, team)).content.decode()
        assert body.count("data-open-definition") == 1, name
        assert "status Open or Needs manual review." in body, name
        assert "needs_manual_review<" not in body


def test_dashboard_links_to_the_findings_it_counts(team, member, client_as, repository):
    body = client_as(member(Role.VIEWER)).get(url("dashboard", team)).content.decode()
    unresolved = "status=open&amp;status=needs_manual_review"
    assert f"?{unresolved}&amp;severity=critical" in body
    assert f"?repository={repository.pk}&amp;{unresolved}&amp;severity=critical" in body
    assert "&amp;status=open&amp;severity" not in body
