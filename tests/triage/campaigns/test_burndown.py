"""The burndown: open findings per day since launch and the forecast at the pace so far."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import FindingFactory, RepositoryFactory
from triage.models import Campaign, CampaignFinding, Finding
from triage.selectors import campaigns as selectors
from triage.services import campaigns as services

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(team, triager):
    repository = RepositoryFactory(team=team)
    for _ in range(4):
        FindingFactory(repository=repository)
    campaign = services.campaign_create(
        team=team,
        actor=triager,
        name="Four injections",
        instructions="Fix.",
        selection=services.CampaignSelection(severities=["high"]),
    )
    four_days_ago = timezone.now() - timedelta(days=4)
    Campaign.objects.filter(pk=campaign.pk).update(
        state=Campaign.State.LAUNCHED,
        launched_at=four_days_ago,
        due_date=timezone.localdate() + timedelta(days=2),
    )
    CampaignFinding.objects.filter(campaign=campaign).update(added_at=four_days_ago)
    campaign.refresh_from_db()
    return campaign


def test_resolved_findings_burn_down_and_the_pace_forecasts_the_end(campaign):
    two_days_ago = timezone.now() - timedelta(days=2)
    resolved = Finding.objects.filter(pk__in=campaign.findings.values("finding")[:2])
    Finding.objects.filter(pk__in=list(resolved.values_list("pk", flat=True))).update(
        status="resolved", resolved_at=two_days_ago
    )
    burndown = selectors.campaign_burndown(campaign=campaign)
    actual = [count for _, count, forecast in burndown.days if not forecast]
    assert actual == [4, 4, 2, 2, 2]
    assert burndown.open_now == 2 and burndown.per_day == 0.5
    today = timezone.localdate()
    assert burndown.forecast_done == today + timedelta(days=4)
    assert burndown.on_track is False  # due in two days, done in four at this pace
    forecast = [(day, count) for day, count, is_forecast in burndown.days if is_forecast]
    assert forecast[0] == (today + timedelta(days=1), 2)  # 1.5 rounds to 2
    assert forecast[-1] == (today + timedelta(days=4), 0)


def test_nothing_resolved_gives_no_forecast(campaign, team, triager, client_as):
    burndown = selectors.campaign_burndown(campaign=campaign)
    assert [count for _, count, _ in burndown.days] == [4] * 5 + [4, 4]  # until the due date
    assert burndown.forecast_done is None and burndown.on_track is False
    from tests.pages import team_url

    page = client_as(triager).get(team_url("campaigns-detail", team, campaign_id=campaign.pk))
    body = page.content.decode()
    assert 'id="campaign-burndown"' in body or 'id="campaign-burndown-title"' in body
    assert "no forecast" in body
