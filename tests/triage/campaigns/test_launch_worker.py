"""A campaign launched through the real Celery worker, starting its fixes in the sandbox over
HTTP with 20 ms of latency on every answer: every fix starts once, and the launch is quick."""

import time

from tests.factories import MembershipFactory, UserFactory
from triage.models import CampaignRepository, KolegaConnection, Role
from triage.services import campaigns as services
from triage.services.connections import connection_create
from triage.sync import sync_connection_full


def test_worker_starts_every_fix_of_a_campaign_once(live_server, team, celery_worker_process):
    from sandbox.models import Fix as UpstreamFix
    from sandbox.services.faults import fault_config_clear, fault_config_set
    from sandbox.services.scale import organization_scale_create

    scaled = organization_scale_create(repositories=8, findings=80, slug="campaign-worker")
    admin = MembershipFactory(team=team, role=Role.ADMIN, user=UserFactory(username="ada")).user
    created = connection_create(
        team=team,
        actor=admin,
        name="Scale",
        base_url=live_server.url + "/sandbox",
        api_key=scaled.api_key,
    )
    connection = KolegaConnection.objects.get(pk=created.pk)
    assert sync_connection_full(connection=connection).status == "succeeded"
    campaign = services.campaign_create(
        team=team,
        actor=admin,
        name="Everything",
        instructions="Fix it.",
        selection=services.CampaignSelection(severities=["critical", "high", "medium", "low"]),
    )
    rows = campaign.repositories.filter(state=CampaignRepository.State.PLANNED).count()
    assert rows >= 4
    fault_config_set(organization=scaled.organization, latency_ms=20)
    started_at = time.monotonic()
    services.campaign_launch(campaign=campaign, actor=admin)
    deadline = started_at + 90
    waiting = campaign.repositories.filter(
        state__in=[CampaignRepository.State.PLANNED, CampaignRepository.State.STARTING]
    )
    while time.monotonic() < deadline and waiting.exists():
        time.sleep(0.3)
    took = time.monotonic() - started_at
    fault_config_clear(organization=scaled.organization)

    states = list(campaign.repositories.values_list("state", flat=True))
    assert states == [CampaignRepository.State.STARTED] * rows
    upstream = UpstreamFix.objects.filter(organization=scaled.organization)
    assert upstream.count() == rows
    assert len(set(campaign.repositories.values_list("fix_upstream_id", flat=True))) == rows
    assert took < 30, f"{rows} fixes took {took:.1f} s to start"
