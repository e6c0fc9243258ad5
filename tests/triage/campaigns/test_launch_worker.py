"""A campaign launched through the real Celery worker, starting its fixes in the sandbox over
HTTP with injected latency: every fix starts once, and the launch is quick; a worker killed
mid-launch, its fix requests in flight, leaves nothing that the next worker starts twice."""

import time
from collections import Counter

import pytest

from tests.conftest import wait_until
from tests.factories import MembershipFactory, UserFactory
from triage import tasks
from triage.models import CampaignRepository, KolegaConnection, Role
from triage.services import campaigns as services
from triage.services.connections import connection_create
from triage.sync import sync_connection_full

WAITING = (CampaignRepository.State.PLANNED, CampaignRepository.State.STARTING)


def _scaled_campaign(live_server, team, *, slug: str):
    """A synced connection to a sandbox organization of 8 repositories, and a draft campaign
    of all its findings; answers (the scaled organization, the admin, the campaign)."""
    from sandbox.services.scale import organization_scale_create

    scaled = organization_scale_create(repositories=8, findings=80, slug=slug)
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
    return scaled, admin, campaign


def test_worker_starts_every_fix_of_a_campaign_once(live_server, team, celery_worker_process):
    from sandbox.models import Fix as UpstreamFix
    from sandbox.services.faults import fault_config_clear, fault_config_set

    scaled, admin, campaign = _scaled_campaign(live_server, team, slug="campaign-worker")
    rows = campaign.repositories.filter(state=CampaignRepository.State.PLANNED).count()
    assert rows >= 4
    fault_config_set(organization=scaled.organization, latency_ms=20)
    started_at = time.monotonic()
    services.campaign_launch(campaign=campaign, actor=admin)
    deadline = started_at + 90
    waiting = campaign.repositories.filter(state__in=WAITING)
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


@pytest.fixture
def short_claim(monkeypatch):
    """Workers started after this take a fix start claimed over three seconds ago for one
    whose worker died."""
    monkeypatch.setenv("PORTAL_CAMPAIGN_CLAIM_SECONDS", "3")


@pytest.mark.worker
def test_a_worker_killed_mid_launch_starts_no_fix_twice(
    short_claim, live_server, team, transactional_db
):
    from sandbox.models import Fix as UpstreamFix
    from sandbox.services.faults import fault_config_clear, fault_config_set
    from tests.conftest import celery_worker_running

    scaled, admin, campaign = _scaled_campaign(live_server, team, slug="campaign-killed")
    rows = campaign.repositories.filter(state=CampaignRepository.State.PLANNED).count()
    assert rows >= 5  # more than one worker's first round of starts
    upstream = UpstreamFix.objects.filter(organization=scaled.organization)
    # Two seconds on every answer: a fix start (quota read, then the create) takes four, so
    # the worker is killed while Kolega is making the fixes it asked for.
    fault_config_set(organization=scaled.organization, latency_ms=2000)
    with celery_worker_running(hostname="doomed-launcher") as doomed:
        services.campaign_launch(campaign=campaign, actor=admin)
        starting = campaign.repositories.filter(state=CampaignRepository.State.STARTING)
        assert wait_until(starting.exists, 30), "the launch never claimed a fix"
        time.sleep(3)  # past the quota read, inside the create
        doomed.kill()  # SIGKILL: no chance to record the fixes it asked for
        doomed.wait(timeout=10)
    # Kolega finishes the creates the dead worker sent; the portal never heard of them.
    assert wait_until(lambda: upstream.count() >= 1, 10)
    time.sleep(2.5)
    made_by_the_dead = upstream.count()
    claimed = campaign.repositories.filter(state=CampaignRepository.State.STARTING).count()
    assert made_by_the_dead >= 1 and claimed >= made_by_the_dead
    assert not campaign.repositories.filter(state=CampaignRepository.State.STARTED).exists()
    fault_config_clear(organization=scaled.organization)

    with celery_worker_running(hostname="next-launcher"):
        # The killed worker's message is redelivered (Redis holds it unacknowledged until its
        # visibility timeout); twice here, as a redelivery and a second launch would.
        time.sleep(3.5)  # the dead worker's claims lapse
        tasks.launch_campaign.delay(campaign.pk)
        tasks.launch_campaign.delay(campaign.pk)
        waiting = campaign.repositories.filter(state__in=WAITING)
        assert wait_until(lambda: not waiting.exists(), 60), list(
            campaign.repositories.values_list("state", "error")
        )

    states = Counter(campaign.repositories.values_list("state", flat=True))
    assert states == {CampaignRepository.State.STARTED: rows}
    # Every planned fix was made exactly once in Kolega: the dead worker's adopted, the rest
    # started by the next one.
    made = Counter((fix.title, tuple(sorted(map(str, fix.finding_ids)))) for fix in upstream)
    assert len(made) == rows and set(made.values()) == {1}
    assert upstream.count() == rows
    recorded = set(campaign.repositories.values_list("fix_upstream_id", flat=True))
    assert recorded == {str(pk) for pk in upstream.values_list("id", flat=True)}
