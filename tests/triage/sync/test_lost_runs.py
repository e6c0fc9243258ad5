"""A run whose task died (worker killed, database gone before it could record its end) is
marked failed with the reason by the beat's next round, not left "Running" for good."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import KolegaConnectionFactory
from triage import tasks
from triage.models import Role, SyncRun, SyncState
from triage.sync.lease import lease_acquire
from triage.sync.runs import WORKER_LOST_REASON, sync_runs_fail_lost


@pytest.fixture
def connection(team):
    return KolegaConnectionFactory(team=team)


def _running(connection) -> SyncRun:
    return SyncRun.objects.create(
        connection=connection,
        team=connection.team,
        kind=SyncRun.Kind.INCREMENTAL,
        status=SyncRun.Status.RUNNING,
        started_at=timezone.now(),
        phase="findings",
    )


def test_a_running_run_whose_lease_lapsed_is_marked_failed_with_the_reason(connection):
    lost = _running(connection)
    assert lease_acquire(connection=connection, owner=f"run-{lost.pk}")
    SyncState.objects.filter(connection=connection).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert sync_runs_fail_lost() == 1

    lost.refresh_from_db()
    assert lost.status == SyncRun.Status.FAILED
    assert lost.error_kind == "worker_lost"
    assert lost.error == WORKER_LOST_REASON
    assert lost.finished_at is not None and lost.phase == ""


def test_a_running_run_with_no_lease_at_all_is_marked_failed(connection):
    lost = _running(connection)

    sync_runs_fail_lost()

    lost.refresh_from_db()
    assert lost.status == SyncRun.Status.FAILED


def test_a_run_holding_a_live_lease_keeps_running(connection, other_team):
    alive = _running(connection)
    assert lease_acquire(connection=connection, owner=f"run-{alive.pk}")
    # Another connection's live lease does not keep this connection's dead run alive.
    other = KolegaConnectionFactory(team=other_team)
    dead = _running(other)
    assert lease_acquire(connection=other, owner="run-999999")

    assert sync_runs_fail_lost() == 1

    alive.refresh_from_db()
    dead.refresh_from_db()
    assert alive.status == SyncRun.Status.RUNNING
    assert dead.status == SyncRun.Status.FAILED


def test_the_beat_round_marks_lost_runs_and_the_sync_page_says_why(
    connection, member, client_as, monkeypatch
):
    monkeypatch.setattr(tasks.sync_connection, "delay", lambda *args: None)
    lost = _running(connection)

    tasks.sync_due_connections()

    lost.refresh_from_db()
    assert lost.status == SyncRun.Status.FAILED
    page = client_as(member(Role.ADMIN)).get(f"/t/{connection.team.slug}/settings/sync/{lost.pk}/")
    assert page.status_code == 200
    assert "worker lost" in page.content.decode()
