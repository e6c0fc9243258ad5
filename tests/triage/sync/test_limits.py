"""What one sync may write and read is bounded: a server answering without end must not fill
the database every team shares, nor the memory of the worker."""

from triage.models import SyncRun
from triage.sync import sync_connection_full


def test_a_sync_past_the_row_cap_fails_with_a_clear_message(connection, settings):
    settings.PORTAL_SYNC_MAX_ROWS = 5

    run = sync_connection_full(connection=connection)

    assert run.status == SyncRun.Status.FAILED and run.error_kind == "row_cap"
    assert "PORTAL_SYNC_MAX_ROWS" in run.error and "5 rows" in run.error
    assert run.rows_written <= 5 + 200  # at most the page that crossed the cap


def test_an_answer_past_the_byte_cap_fails_the_sync(connection, settings):
    settings.PORTAL_OUTBOUND_MAX_RESPONSE_BYTES = 2000

    run = sync_connection_full(connection=connection)

    assert run.status == SyncRun.Status.FAILED and run.error_kind == "too_large"
    assert run.error == "An answer from Kolega was larger than the portal reads."
