"""The campaign pages: roles, another team's campaigns, bad input, creating from the findings
page's filters and from a rule group, the review-next path, and bounded query counts."""

from urllib.parse import urlencode

import pytest

from tests.factories import FindingFactory, FixFactory, PullRequestFactory, RepositoryFactory
from tests.pages import team_url
from triage.models import AuditEvent, Campaign, CampaignFinding, CampaignRepository, Role
from triage.services import campaigns as services

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def repositories(team):
    return [RepositoryFactory(team=team, name=f"service-{n}") for n in range(3)]


@pytest.fixture
def findings(repositories):
    """Two SQL injections per repository and one hard-coded secret in the first."""
    made = [FindingFactory(repository=r) for r in repositories for _ in range(2)]
    made.append(
        FindingFactory(
            repository=repositories[0],
            check_id="generic.secrets.aws-key",
            severity="critical",
            cwe=["CWE-798"],
        )
    )
    return made


def _campaign(
    team, user, findings, *, fixes: bool = False, name: str = "Parameterize queries"
) -> Campaign:
    campaign = services.campaign_create(
        team=team,
        actor=user,
        name=name,
        instructions="Use parameterized queries.",
        selection=services.CampaignSelection(check_ids=["python.lang.security.sql-injection"]),
    )
    if fixes:
        Campaign.objects.filter(pk=campaign.pk).update(state=Campaign.State.LAUNCHED)
        for row in campaign.repositories.select_related("repository"):
            fix = FixFactory(repository=row.repository)
            PullRequestFactory(fix=fix)
            CampaignRepository.objects.filter(pk=row.pk).update(
                state=CampaignRepository.State.STARTED, fix=fix, fix_upstream_id=fix.upstream_id
            )
    return campaign


def test_a_triager_creates_a_campaign_from_picked_rules_cwes_and_severities(
    team, triager, findings, client_as
):
    client = client_as(triager)
    assert client.get(team_url("campaigns-new", team)).status_code == 200
    response = client.post(
        team_url("campaigns-new", team),
        {
            "name": "Rotate AWS keys",
            "instructions": "Move the key to configuration.",
            "cwes": "798",
            "severities": ["critical", "high"],
            "due_date": "2027-01-31",
            "follow_new": "on",
        },
    )
    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert response.url == team_url("campaigns-detail", team, campaign_id=campaign.pk)
    assert campaign.cwes == ["CWE-798"] and campaign.follow_new
    assert campaign.owner == triager and campaign.created_by == triager
    assert CampaignFinding.objects.filter(campaign=campaign).count() == 1
    assert AuditEvent.objects.filter(action="campaign.create").count() == 1


def test_the_findings_page_filters_carry_over_to_a_new_campaign(team, triager, findings, client_as):
    client = client_as(triager)
    query = urlencode({"severity": "high", "repository": findings[0].repository_id})
    # The findings page's selection bar posts its filters here: the form shows them.
    shown = client.post(team_url("campaigns-new", team), {"filter_query": query})
    assert shown.status_code == 200
    assert query in shown.content.decode().replace("&amp;", "&")
    assert not Campaign.objects.exists()
    response = client.post(
        team_url("campaigns-new", team),
        {"name": "High in one repo", "instructions": "Fix it.", "filter_query": query},
    )
    assert response.status_code == 302
    campaign = Campaign.objects.get()
    assert campaign.filter_query == query
    assert campaign.findings.count() == 2 and campaign.repositories.count() == 1


def test_the_findings_page_and_its_rule_groups_offer_a_new_campaign(
    team, triager, findings, client_as
):
    client = client_as(triager)
    new_url = team_url("campaigns-new", team)
    assert new_url in client.get(team_url("findings", team)).content.decode()
    grouped = client.get(team_url("findings", team), {"group": "rule"}).content.decode()
    assert new_url in grouped and "New campaign for this rule" in grouped


@pytest.mark.parametrize(
    "data,error",
    [
        ({"name": "", "severities": "high"}, "This field is required."),
        ({"name": "X", "cwes": "not-a-cwe"}, "is not a CWE"),
        ({"name": "X"}, "Choose what the campaign fixes"),
        ({"name": "X", "severities": "low"}, "No unresolved findings match"),
        ({"name": "X", "severities": "high", "due_date": "2026-02-30"}, "valid date"),
        ({"name": "X", "severities": "high", "owner": "999999"}, "valid choice"),
        ({"name": "X", "severities": "bogus"}, "valid choice"),
        ({"name": "X", "filter_query": "age_min_days=-5"}, "not valid"),
    ],
)
def test_bad_input_is_refused_clearly_and_saves_nothing(
    team, triager, findings, client_as, data, error
):
    response = client_as(triager).post(
        team_url("campaigns-new", team), {"instructions": "Fix it.", **data}
    )
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Campaign.objects.exists() and not AuditEvent.objects.exists()


def test_an_owner_of_another_team_is_refused(
    team, other_team, triager, member, findings, client_as
):
    outsider = member(Role.TRIAGER, of=other_team)
    response = client_as(triager).post(
        team_url("campaigns-new", team),
        {"name": "X", "instructions": "Fix.", "severities": "high", "owner": outsider.pk},
    )
    assert response.status_code == 400 and not Campaign.objects.exists()


def test_viewers_read_and_only_triagers_write(team, triager, member, findings, client_as):
    campaign = _campaign(team, triager, findings)
    viewer = client_as(member(Role.VIEWER))
    detail = team_url("campaigns-detail", team, campaign_id=campaign.pk)
    assert viewer.get(team_url("campaigns", team)).status_code == 200
    page = viewer.get(detail)
    assert page.status_code == 200 and 'value="launch"' not in page.content.decode()
    assert viewer.get(team_url("campaigns-new", team)).status_code == 403
    assert viewer.post(detail, {"action": "launch"}).status_code == 403
    assert viewer.post(team_url("campaigns-new", team), {"name": "X"}).status_code == 403
    assert 'value="launch"' in client_as(triager).get(detail).content.decode()
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.DRAFT


def test_another_teams_campaign_answers_404(team, other_team, triager, member, findings, client_as):
    campaign = _campaign(team, triager, findings, fixes=True)
    outsider = client_as(member(Role.ADMIN, of=other_team))
    kwargs = {"campaign_id": campaign.pk}
    for name in ("campaigns-detail", "campaigns-quota", "campaigns-review-next"):
        assert outsider.get(team_url(name, other_team, **kwargs), **HTMX).status_code == 404
    response = outsider.post(
        team_url("campaigns-detail", other_team, **kwargs), {"action": "cancel"}
    )
    assert response.status_code == 404
    listed = outsider.get(team_url("campaigns", other_team)).content.decode()
    assert campaign.name not in listed and "No campaigns yet" in listed
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.LAUNCHED


def test_an_unknown_action_changes_nothing(team, triager, findings, client_as):
    campaign = _campaign(team, triager, findings)
    detail = team_url("campaigns-detail", team, campaign_id=campaign.pk)
    response = client_as(triager).post(detail, {"action": "explode"})
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.DRAFT


def test_cancelling_a_draft_campaign(team, triager, findings, client_as):
    campaign = _campaign(team, triager, findings)
    detail = team_url("campaigns-detail", team, campaign_id=campaign.pk)
    assert client_as(triager).post(detail, {"action": "cancel"}).status_code == 302
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.CANCELLED
    response = client_as(triager).post(detail, {"action": "launch"})
    assert response.status_code == 400 and "cancelled" in response.content.decode()


def test_the_campaign_page_shows_each_fix_and_the_progress(team, triager, findings, client_as):
    campaign = _campaign(team, triager, findings, fixes=True)
    client = client_as(triager)
    page = client.get(team_url("campaigns-detail", team, campaign_id=campaign.pk))
    body = page.content.decode()
    assert page.status_code == 200
    for row in campaign.repositories.all():
        assert f'id="campaign-repository-{row.pk}"' in body
    assert 'id="progress-pr_open"' in body
    # Nothing runs: the polled fragment stops polling (286).
    fragment = client.get(team_url("campaigns-detail", team, campaign_id=campaign.pk), **HTMX)
    assert fragment.status_code == 286 and 'id="campaign-fixes"' in fragment.content.decode()


def test_a_running_fix_keeps_the_fixes_polling(team, triager, findings, client_as):
    campaign = _campaign(team, triager, findings, fixes=True)
    row = campaign.repositories.select_related("fix").first()
    type(row.fix).objects.filter(pk=row.fix_id).update(status="running")
    fragment = client_as(triager).get(
        team_url("campaigns-detail", team, campaign_id=campaign.pk), **HTMX
    )
    assert fragment.status_code == 200 and 'hx-trigger="every 3s"' in fragment.content.decode()


def test_review_next_leads_through_the_diffs_on_the_fix_page(team, triager, findings, client_as):
    campaign = _campaign(team, triager, findings, fixes=True)
    client = client_as(triager)
    fix_ids = list(
        campaign.repositories.order_by("repository__name").values_list("fix_id", flat=True)
    )
    url = team_url("campaigns-review-next", team, campaign_id=campaign.pk)
    first = client.get(url)
    assert (
        first.url == team_url("fixes-detail", team, fix_id=fix_ids[0]) + f"?campaign={campaign.pk}"
    )
    fix_page = client.get(first.url).content.decode()
    assert f"{url}?after={fix_ids[0]}" in fix_page
    assert client.get(url, {"after": fix_ids[0]}).url.startswith(
        team_url("fixes-detail", team, fix_id=fix_ids[1])
    )


def test_list_page_queries_are_bounded(
    team, triager, findings, client_as, django_assert_max_num_queries
):
    for n in range(6):
        _campaign(team, triager, findings, fixes=n % 2 == 0, name=f"Campaign {n}")
    client = client_as(triager)
    with django_assert_max_num_queries(14):
        response = client.get(team_url("campaigns", team))
    assert response.status_code == 200 and "Campaign 5" in response.content.decode()


def test_campaign_page_queries_are_bounded(
    team, triager, findings, repositories, client_as, django_assert_max_num_queries
):
    more = [RepositoryFactory(team=team, name=f"more-{n}") for n in range(7)]
    for repository in more:
        FindingFactory(repository=repository)
    campaign = _campaign(team, triager, findings, fixes=True)
    assert campaign.repositories.count() == len(repositories) + len(more)
    client = client_as(triager)
    url = team_url("campaigns-detail", team, campaign_id=campaign.pk)
    with django_assert_max_num_queries(18):
        assert client.get(url).status_code == 200
    with django_assert_max_num_queries(13):
        assert client.get(
            team_url("campaigns-detail", team, campaign_id=campaign.pk), **HTMX
        ).status_code in (200, 286)


def test_the_export_lists_each_fix_and_its_time_from_launch_to_merge(
    team, triager, member, findings, client_as
):
    import csv
    import io
    from datetime import timedelta

    from django.utils import timezone

    from triage.models import PullRequest

    campaign = _campaign(team, triager, findings, fixes=True)
    launched = timezone.now() - timedelta(hours=30)
    Campaign.objects.filter(pk=campaign.pk).update(launched_at=launched)
    merged_row = campaign.repositories.order_by("repository__name").first()
    PullRequest.objects.filter(fix_id=merged_row.fix_id).update(
        merge_status="merged", merged_at=launched + timedelta(hours=12)
    )
    viewer = client_as(member(Role.VIEWER))
    response = viewer.get(team_url("campaigns-export", team, campaign_id=campaign.pk))
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    lines = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(lines) == campaign.repositories.count()
    merged = [line for line in lines if line["stage"] == "Merged"]
    assert [line["hours_launch_to_merge"] for line in merged] == ["12.0"]
    page = viewer.get(team_url("campaigns-detail", team, campaign_id=campaign.pk))
    assert "Launch to merge: 12.0 hours" in page.content.decode()
