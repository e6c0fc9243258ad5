"""The repositories list and one repository's page: open findings by severity, SLA, scan
coverage and last scans, fixes and pull requests; another team's repository answers 404."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import (
    FindingFactory,
    FixFactory,
    PullRequestFactory,
    RepositoryFactory,
    ScanBatchFactory,
)
from tests.pages import HTMX, team_url
from triage.models import Role, SlaPolicy

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(member, client_as):
    return client_as(member(Role.VIEWER))


def _detail(team, repository) -> str:
    return team_url("repositories-detail", team, repository_id=repository.pk)


def test_the_repository_page_counts_open_findings_by_severity_with_manual_review(team, viewer):
    repository = RepositoryFactory(team=team, name="payments-api")
    FindingFactory(repository=repository, severity="critical", status="open")
    FindingFactory(repository=repository, severity="critical", status="needs_manual_review")
    FindingFactory(repository=repository, severity="critical", status="resolved")
    FindingFactory(repository=repository, severity="low", status="ignored")
    FindingFactory(repository=RepositoryFactory(team=team), severity="critical")

    response = viewer.get(_detail(team, repository))

    body = response.content.decode()
    assert response.status_code == 200
    assert "<h1>payments-api" in body
    critical = body.split('class="sev-critical">Critical</span></span><span class="stat-value">')
    assert critical[1].startswith("2<")  # open + needs manual review, not resolved
    assert "open or needing manual review" in body


def test_the_sla_uses_the_teams_policy(team, viewer):
    repository = RepositoryFactory(team=team)
    SlaPolicy.objects.create(team=team, high_days=5)
    now = timezone.now()
    late, _in_time = (
        FindingFactory(
            repository=repository,
            severity="high",
            title=title,
            first_detected_at=now - timedelta(days=days),
        )
        for title, days in (("Late one", 6), ("In time", 2))
    )

    body = viewer.get(_detail(team, repository)).content.decode()

    sla = body.split('id="repository-sla"')[1].split("</section>")[0]
    assert '<td class="num">5</td><td class="num">2</td><td class="num"><a href=' in sla
    assert f'?kind=breached&amp;severity=high&amp;repository={repository.pk}"><strong>1<' in sla
    assert f"/findings/{late.pk}/" in sla and "In time" not in sla
    assert "default days" not in sla


def test_scan_coverage_last_scans_fixes_and_pull_requests(team, viewer):
    repository = RepositoryFactory(team=team)
    ScanBatchFactory(repository=repository, scan_type="semgrep_scan", status="completed")
    ScanBatchFactory(
        repository=repository, scan_type="secrets_scan", status="running", completed_at=None
    )
    fix = FixFactory(repository=repository, title="Parameterise the query")
    PullRequestFactory(fix=fix, pr_number=41, merge_status="merged")
    other_fix = FixFactory(repository=RepositoryFactory(team=team), title="Elsewhere")
    PullRequestFactory(fix=other_fix, pr_number=42)

    body = viewer.get(_detail(team, repository)).content.decode()

    coverage = body.split('id="repository-coverage"')[1].split("</section>")[0]
    rows = {row.split("</td>")[0]: row for row in coverage.split("<tr><td>")[1:]}
    assert "never" not in rows["Code (SAST)"].split("</td>")[1]  # finished
    assert "never" in rows["Secrets"].split("</td>")[1]  # started, not finished
    assert "never" not in rows["Secrets"].split("</td>")[2]
    assert "secrets_scan" not in body and "semgrep_scan" not in body
    assert "Parameterise the query" in body and "Elsewhere" not in body
    assert "#41" in body and "Merged" in body and "#42" not in body


def test_another_teams_repository_is_not_found(team, other_team, viewer):
    foreign = RepositoryFactory(team=other_team)

    assert viewer.get(_detail(team, foreign)).status_code == 404
    assert viewer.get(f"{team_url('repositories', team)}99999999999999999999/").status_code == 404


def test_the_repository_page_reads_in_a_bounded_number_of_queries(
    team, viewer, repository_activity, django_assert_max_num_queries
):
    repository = RepositoryFactory(team=team)
    for _ in range(5):
        repository_activity(repository, severity="high")

    with django_assert_max_num_queries(22):  # incl. the session, team and staleness banner
        assert viewer.get(_detail(team, repository)).status_code == 200


def test_the_list_counts_each_repository_and_filters_by_name(team, viewer):
    payments = RepositoryFactory(team=team, name="payments-api")
    RepositoryFactory(team=team, name="web-frontend")
    FindingFactory(repository=payments, severity="high", status="needs_manual_review")
    PullRequestFactory(fix=FixFactory(repository=payments))

    page = viewer.get(team_url("repositories", team)).content.decode()
    fragment = viewer.get(team_url("repositories", team), {"name": "PAY"}, **HTMX)

    assert "payments-api" in page and "web-frontend" in page
    assert f'href="/t/{team.slug}/repositories/{payments.pk}/"' in page
    assert "Open findings are those open or needing manual review" in page
    body = fragment.content.decode()
    assert "<html" not in body and 'id="repositories-table"' in body
    assert "payments-api" in body and "web-frontend" not in body
    assert f"?repository={payments.pk}&amp;severity=high&amp;status=open" in body


def test_the_list_sorts_by_open_findings(team, viewer):
    quiet = RepositoryFactory(team=team, name="a-quiet")
    busy = RepositoryFactory(team=team, name="z-busy")
    FindingFactory.create_batch(3, repository=busy)
    FindingFactory(repository=quiet)

    body = viewer.get(team_url("repositories", team), {"sort": "open"}).content.decode()
    assert body.index("z-busy") < body.index("a-quiet")
    body = viewer.get(team_url("repositories", team), {"sort": "name"}).content.decode()
    assert body.index("a-quiet") < body.index("z-busy")


def test_the_list_reads_in_a_bounded_number_of_queries(
    team, viewer, repository_activity, django_assert_max_num_queries
):
    for _ in range(20):
        repository_activity(RepositoryFactory(team=team))

    with django_assert_max_num_queries(16):
        assert viewer.get(team_url("repositories", team)).status_code == 200


def test_the_list_never_shows_another_teams_repositories(team, other_team, viewer):
    RepositoryFactory(team=other_team, name="secret-service")

    assert "secret-service" not in viewer.get(team_url("repositories", team)).content.decode()
