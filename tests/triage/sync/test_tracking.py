import pytest

from tests.mirror_rows import fix_started_upstream, scan_started
from triage.kolega import iter_all
from triage.models import Fix, KolegaConnection
from triage.sync import (
    TrackingStopped,
    fix_track_step,
    scan_batch_track_step,
    sync_connection_full,
    sync_connection_incremental,
)

pytestmark = pytest.mark.django_db


def test_tracking_a_scan_batch_stores_progress_then_its_findings(
    connection, upstream, sandbox_clock
):
    repository, started, batch = scan_started(connection, upstream)
    assert not batch.is_terminal

    sandbox_clock.advance(5)
    assert scan_batch_track_step(batch=batch) is False
    batch.refresh_from_db()
    assert batch.percent_complete is not None and batch.percent_complete < 100
    assert batch.progress_repositories and batch.progress_synced_at is not None

    sandbox_clock.advance(600)
    assert scan_batch_track_step(batch=batch) is True
    batch.refresh_from_db()
    assert batch.status == "completed"
    assert batch.percent_complete == 100
    assert batch.findings_synced_at is not None
    listed = {
        finding.id
        for finding in iter_all(
            upstream.list_findings, repository_id=repository.id, scan_batch_id=started.batch_id
        )
    }
    assert set(batch.findings.values_list("upstream_id", flat=True)) == listed
    assert batch.results_findings_count == len(listed)


def test_tracking_a_fix_stores_its_heartbeat_then_its_diff(connection, upstream, sandbox_clock):
    sync_connection_full(connection=connection)
    created, repository = fix_started_upstream(upstream, status="open")
    sync_connection_incremental(connection=connection)
    fix = Fix.objects.get(connection=connection, upstream_id=created.id)

    sandbox_clock.advance(10)
    assert fix_track_step(fix=fix) is False
    fix.refresh_from_db()
    assert fix.status == "running"
    assert fix.agent_steps_completed > 0 and fix.latest_activity_at is not None

    sandbox_clock.advance(600)
    assert fix_track_step(fix=fix) is True
    fix.refresh_from_db()
    expected = upstream.get_fix_diff(repository_id=repository.id, fix_id=created.id).diff
    assert fix.status == "completed"
    assert fix.diff == expected and len(fix.diff_sha256) == 64


def test_a_rejected_key_stops_tracking_and_marks_the_connection_invalid(
    connection, upstream, demo_org
):
    from sandbox.services.organizations import api_key_revoke

    _, _, batch = scan_started(connection, upstream)
    api_key_revoke(organization=demo_org[0], key_prefix="kcp_")

    with pytest.raises(TrackingStopped):
        scan_batch_track_step(batch=batch)

    connection.refresh_from_db()
    assert connection.state == KolegaConnection.State.INVALID
    assert "401" in connection.state_reason
