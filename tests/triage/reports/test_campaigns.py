"""Campaigns in the report: per campaign, the funnel of its findings (selected → fix started →
in review → pull request → merged → resolved) and the time from launch to its first and
median merge, on the page and in the CSV export; the page reads the same number of queries
whatever the number of campaigns."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import (
    FindingFactory,
    FixFactory,
    KolegaConnectionFactory,
    PullRequestFactory,
    RepositoryFactory,
)
from tests.pages import team_url
from triage.models import Campaign, CampaignFinding, CampaignRepository, Role
from triage.services import campaigns as services
from triage.views.reports import CAMPAIGN_COLUMNS

pytestmark = pytest.mark.django_db


def _launched(team, triager, name: str, *, days_ago: int = 3) -> Campaign:
    """A campaign over three repositories of two findings each, launched ``days_ago``: one
    fix merged five hours after launch, one with a pull request open, one still running."""
    launched_at = timezone.now() - timedelta(days=days_ago)
    connection = team.connections.first() or KolegaConnectionFactory(team=team)
    repositories = [
        RepositoryFactory(team=team, connection=connection, name=f"{name}-{i}") for i in range(3)
    ]
    for repository in repositories:
        for _ in range(2):
            FindingFactory(repository=repository, check_id=f"rule.{name}")
    campaign = services.campaign_create(
        team=team,
        actor=triager,
        name=f"Campaign {name}",
        instructions="Fix.",
        selection=services.CampaignSelection(check_ids=[f"rule.{name}"]),
    )
    Campaign.objects.filter(pk=campaign.pk).update(
        state=Campaign.State.LAUNCHED, launched_at=launched_at, launched_by=triager
    )
    rows = list(campaign.repositories.order_by("repository__name"))
    assert len(rows) == 3
    merged, opened, running = rows
    for row, kind in ((merged, "merged"), (opened, "open"), (running, "running")):
        fix = FixFactory(repository=row.repository, running=kind == "running")
        if kind != "running":
            PullRequestFactory(
                fix=fix,
                merge_status=kind,
                merged_at=launched_at + timedelta(hours=5) if kind == "merged" else None,
            )
        CampaignRepository.objects.filter(pk=row.pk).update(
            state=CampaignRepository.State.STARTED, fix=fix, started_at=launched_at
        )
    # The merged fix's findings are resolved.
    merged_findings = CampaignFinding.objects.filter(campaign_repository=merged)
    for taken in merged_findings.select_related("finding"):
        taken.finding.status = "resolved"
        taken.finding.resolved_at = launched_at + timedelta(hours=5)
        taken.finding.save(update_fields=["status", "resolved_at"])
    campaign.refresh_from_db()
    return campaign


@pytest.fixture
def triager(team, member):
    return member(Role.TRIAGER, username="tess")


def test_the_report_shows_each_campaigns_funnel_and_time_to_merge(team, member, client_as, triager):
    campaign = _launched(team, triager, "injection")
    page = client_as(member(Role.VIEWER)).get(team_url("reports", team))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="report-campaigns"' in body
    assert campaign.name in body
    # Selected 6, started 6, in review 4 (merged and open), PR opened 4, merged 2, resolved 2.
    section = body[body.index('id="report-campaigns"') :]
    cells = [cell.split("</td>")[0] for cell in section.split('<td class="num">')[1:9]]
    assert cells == ["6", "6", "4", "4", "2", "2", "5.0 h", "5.0 h"]


def test_the_campaign_csv_carries_the_same_figures(team, member, client_as, triager):
    campaign = _launched(team, triager, "secrets")
    response = client_as(member(Role.VIEWER)).get(team_url("reports-export-campaigns", team))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    body = (
        b"".join(response.streaming_content).decode()
        if response.streaming
        else response.content.decode()
    )
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 1
    row = rows[0]
    assert row["campaign_id"] == str(campaign.pk) and row["campaign"] == campaign.name
    assert [row[c] for c in CAMPAIGN_COLUMNS[6:]] == ["6", "6", "4", "4", "2", "2", "5.0", "5.0"]
    assert row["owner"] == "tess"


def test_a_repository_report_counts_only_its_findings_and_fixes(team, member, client_as, triager):
    campaign = _launched(team, triager, "xss")
    merged_repository = campaign.repositories.order_by("repository__name").first().repository
    response = client_as(member(Role.VIEWER)).get(
        team_url("reports-export-campaigns", team) + f"?repository={merged_repository.pk}"
    )
    body = (
        b"".join(response.streaming_content).decode()
        if response.streaming
        else response.content.decode()
    )
    (row,) = csv.DictReader(io.StringIO(body))
    assert [row["findings_selected"], row["merged"], row["resolved"]] == ["2", "2", "2"]


def test_campaigns_outside_the_period_are_left_out(team, member, client_as, triager):
    old = _launched(team, triager, "old", days_ago=200)
    # Every finding of the old campaign resolved long before the period.
    long_ago = timezone.now() - timedelta(days=190)
    for taken in CampaignFinding.objects.filter(campaign=old).select_related("finding"):
        taken.finding.status = "resolved"
        taken.finding.resolved_at = long_ago
        taken.finding.save(update_fields=["status", "resolved_at"])
    recent = _launched(team, triager, "recent")
    body = (
        client_as(member(Role.VIEWER))
        .get(team_url("reports", team) + "?period=30")
        .content.decode()
    )
    assert recent.name in body and old.name not in body


def test_the_report_reads_as_many_queries_for_many_campaigns_as_for_one(
    team, member, client_as, triager, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_as(member(Role.VIEWER))
    _launched(team, triager, "first")
    client.get(team_url("reports", team) + "?period=90")  # builds the snapshots, fills the cache
    with CaptureQueriesContext(connection) as one:
        assert client.get(team_url("reports", team) + "?period=90").status_code == 200
    for name in ("second", "third", "fourth", "fifth"):
        _launched(team, triager, name)
    client.get(team_url("reports", team) + "?period=90")
    with CaptureQueriesContext(connection) as five:
        response = client.get(team_url("reports", team) + "?period=90")
    assert response.status_code == 200
    assert response.content.decode().count('href="/t/') >= 5
    assert len(five) == len(one), "\n".join(
        q["sql"][:150] for q in five.captured_queries[len(one.captured_queries) - 5 :]
    )
    with django_assert_max_num_queries(30):
        client.get(team_url("reports", team) + "?period=90")
