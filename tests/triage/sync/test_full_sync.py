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


def test_a_full_sync_written_several_pages_at_a_time_mirrors_every_row(
    team, sandbox_clock, sandbox_transport, sandbox_wsgi, monkeypatch
):
    """Pages of 200 gathered in chunks of 300: chunks end inside pages and listings end
    inside chunks, and nothing is lost or written twice."""
    from sandbox.services.scale import organization_scale_create
    from tests.conftest import SANDBOX_BASE_URL, sandbox_connection
    from triage.kolega import KolegaClient
    from triage.models import ScanBatchFinding
    from triage.sync import full

    monkeypatch.setattr(full, "EVENTS_PER_WRITE", 300)
    monkeypatch.setattr(full, "FINDINGS_PER_WRITE", 300)
    scaled = organization_scale_create(repositories=2, findings=900, events=2100, slug="chunked")
    connection = sandbox_connection(team, scaled.organization, scaled.api_key)

    run = sync_connection_full(connection=connection)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    with KolegaClient(
        base_url=SANDBOX_BASE_URL, api_key=scaled.api_key, transport=sandbox_wsgi
    ) as upstream:
        assert mirror_differences(connection, upstream) == []
    assert Finding.objects.filter(connection=connection).count() == 900
    events = FindingEvent.objects.filter(connection=connection).count()
    assert events == scaled.events > 600
    assert run.details["rows"]["finding_events"] == events
    assert run.details["rows"]["findings"] == 900
    links = ScanBatchFinding.objects.filter(finding__connection=connection).count()
    assert run.details["rows"]["scan_batch_findings"] == links >= 900
    newest = FindingEvent.objects.filter(connection=connection).order_by("-event_timestamp")[0]
    assert SyncState.objects.get(connection=connection).events_cursor == newest.event_timestamp
    assert sync_connection_full(connection=connection).rows_written == 0


def test_a_sync_whose_lease_was_taken_over_commits_nothing_more(connection, monkeypatch):
    """The lease is renewed inside each page's transaction: the page written after another
    worker took the connection over is rolled back, and the run says why it stopped."""
    from triage.sync import rows

    written = rows.findings_write

    def taken_over_while_writing(**kwargs):
        answer = written(**kwargs)
        SyncState.objects.filter(connection=connection).update(lease_owner="run-elsewhere")
        return answer

    monkeypatch.setattr(rows, "findings_write", taken_over_while_writing)

    run = sync_connection_full(connection=connection)

    assert run.status == SyncRun.Status.FAILED
    assert run.error_kind == "lease_lost"
    assert not Finding.objects.filter(connection=connection).exists()
    # What was committed before the takeover is kept.
    assert FindingEvent.objects.filter(connection=connection).exists()
