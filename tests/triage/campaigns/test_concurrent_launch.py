"""Launch runs in parallel against a real database: the pool's threads each start their own
fixes, and two runs of the same launch at once (a duplicated task) still start each fix once.
The rows are committed (transactional_db) so every thread and connection sees them."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection as database

from triage.models import CampaignRepository
from triage.services import campaigns as services

pytestmark = pytest.mark.skipif(
    database.vendor != "postgresql", reason="concurrent writers need PostgreSQL"
)


@pytest.fixture(autouse=True)
def nothing_queued(monkeypatch):
    """Rows are committed here, so tasks would be queued for real: the tests run the launch
    themselves and follow no fix."""
    from triage.services import fixes

    for module in (services, fixes):
        monkeypatch.setattr(module, "task_send", lambda *args: None)


def _launched(campaign, triager, allow_fixes):
    allow_fixes(campaign.repositories.count() + 5)
    services.campaign_launch(campaign=campaign, actor=triager)


def test_the_pool_starts_every_fix_once(
    transactional_db, campaign, triager, allow_fixes, sandbox_fixes
):
    _launched(campaign, triager, allow_fixes)
    rows = campaign.repositories.count()
    before = sandbox_fixes()
    result = services.campaign_launch_run(campaign_id=campaign.pk, concurrency=3)
    assert result.started == rows
    assert sandbox_fixes() == before + rows
    assert set(campaign.repositories.values_list("state", flat=True)) == {"started"}


def test_two_runs_of_one_launch_at_once_start_each_fix_once(
    transactional_db, campaign, triager, allow_fixes, sandbox_fixes
):
    _launched(campaign, triager, allow_fixes)
    rows = campaign.repositories.count()
    before = sandbox_fixes()

    def run(_):
        try:
            return services.campaign_launch_run(campaign_id=campaign.pk, concurrency=2)
        finally:
            database.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, range(2)))

    assert sum(result.started for result in results) == rows
    assert sandbox_fixes() == before + rows
    started = CampaignRepository.objects.filter(campaign=campaign, state="started")
    assert started.count() == rows
    assert len(set(started.values_list("fix_upstream_id", flat=True))) == rows
