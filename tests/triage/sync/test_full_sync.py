import pytest

from tests.triage.sync.mirror_equality import mirror_differences, mirror_snapshot
from triage.models import Finding, FindingEvent, SyncRun, SyncState
from triage.sync import sync_connection_full

pytestmark = pytest.mark.django_db


def test_full_sync_mirrors_every_row_field_by_field(connection, upstream):
    run = sync_connection_full(connection=connection)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert mirror_differences(connection, upstream) == []
    assert Finding.objects.filter(connection=connection).count() > 0
    assert run.requests > 0
    assert run.rows_written == sum(run.details["rows"].values())
    state = SyncState.objects.get(connection=connection)
    newest = FindingEvent.objects.filter(connection=connection).first()
    assert state.events_cursor == newest.event_timestamp
    assert state.last_success_at == run.finished_at


def test_a_second_full_sync_changes_and_duplicates_nothing(connection, upstream):
    first = sync_connection_full(connection=connection)
    before = mirror_snapshot(connection)

    second = sync_connection_full(connection=connection)

    assert first.status == second.status == SyncRun.Status.SUCCEEDED
    assert second.rows_written == 0
    assert mirror_snapshot(connection) == before
