"""Syncs while the sandbox injects server errors, 429s, slow answers and broken bodies."""

import time

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.triage.sync.mirror_equality import mirror_differences
from triage.clients import override_transport
from triage.models import SyncRun, SyncState
from triage.sync import sync_connection_full, sync_connection_incremental

pytestmark = pytest.mark.django_db

# A row may be missing after a failed run, never wrong or extra.
ALLOWED_AFTER_FAILURE = ("missing", " linked,", "finding events:")


class ImpatientTransport(httpx.BaseTransport):
    """The in-process sandbox with a client that gives up on slow answers, as a real read
    timeout would: the server did the work, the client never saw the answer."""

    def __init__(self, inner: httpx.BaseTransport, *, read_timeout: float) -> None:
        self.inner = inner
        self.read_timeout = read_timeout

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.monotonic()
        response = self.inner.handle_request(request)
        if time.monotonic() - started > self.read_timeout:
            raise httpx.ReadTimeout("timed out", request=request)
        return response


@pytest.fixture
def faulty(demo_org, sandbox_wsgi):
    from sandbox.services.faults import fault_config_clear, fault_config_set

    def inject(seed: int) -> None:
        fault_config_set(
            organization=demo_org[0],
            rate_5xx=0.12,
            rate_429=0.08,
            retry_after_seconds=0,
            malformed_rate=0.05,
            slow_ms=400,
            slow_rate=0.05,
            seed=seed,
        )

    with override_transport(ImpatientTransport(sandbox_wsgi, read_timeout=0.3)):
        yield inject
    fault_config_clear(organization=demo_org[0])


def _only_missing_rows(problems: list[str]) -> bool:
    return all(any(marker in problem for marker in ALLOWED_AFTER_FAILURE) for problem in problems)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_full_sync_under_faults_ends_equal_or_fails_cleanly_and_the_next_run_ends_equal(
    connection, upstream, faulty, demo_org, seed
):
    from sandbox.services.faults import fault_config_clear

    faulty(seed)
    run = sync_connection_full(connection=connection)
    fault_config_clear(organization=demo_org[0])

    state = SyncState.objects.get(connection=connection)
    if run.status == SyncRun.Status.SUCCEEDED:
        assert mirror_differences(connection, upstream) == []
    else:
        assert run.status == SyncRun.Status.FAILED
        assert run.error_kind in ("unavailable", "malformed"), run.error
        assert run.error and run.finished_at is not None
        assert state.events_cursor is None  # the cursor only moves when everything is in
        assert state.consecutive_failures == 1 and state.next_attempt_at > run.finished_at
        assert _only_missing_rows(mirror_differences(connection, upstream))

    again = sync_connection_incremental(connection=connection)

    assert again.status == SyncRun.Status.SUCCEEDED, again.error
    assert mirror_differences(connection, upstream) == []
    assert SyncState.objects.get(connection=connection).consecutive_failures == 0


@pytest.mark.slow
def test_an_incremental_sync_under_faults_then_a_clean_one_ends_equal(
    connection, upstream, faulty, demo_org
):
    from sandbox.services.faults import fault_config_clear

    sync_connection_full(connection=connection)
    repository = next(iter(upstream.list_repositories().items))
    for finding in upstream.list_findings(repository_id=repository.id, status="open").items[:4]:
        upstream.update_finding_status(
            repository_id=repository.id, finding_id=finding.id, status="ignored"
        )
    faulty(7)
    sync_connection_incremental(connection=connection)
    fault_config_clear(organization=demo_org[0])

    again = sync_connection_incremental(connection=connection)

    assert again.status == SyncRun.Status.SUCCEEDED, again.error
    assert mirror_differences(connection, upstream) == []


def test_unreachable_kolega_fails_the_run_with_one_message_and_backs_off(connection):
    with override_transport(httpx.MockTransport(_refuse)):
        run = sync_connection_full(connection=connection)

    assert run.status == SyncRun.Status.FAILED and run.error_kind == "unavailable"
    # Viewers read this on the sync status: it says what happened, not the network's words.
    assert run.error.startswith("Could not reach the address.")
    assert "refused" not in run.error.lower()
    assert run.retryable_error is not None
    state = SyncState.objects.get(connection=connection)
    assert state.last_error == run.error and state.next_attempt_at > run.finished_at


def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


def test_a_rejected_key_marks_the_connection_invalid_and_stops_its_syncs(connection, demo_org):
    from sandbox.services.organizations import api_key_revoke

    api_key_revoke(organization=demo_org[0], key_prefix="kcp_")

    run = sync_connection_full(connection=connection)

    assert run.status == SyncRun.Status.FAILED and run.error_kind == "auth"
    connection.refresh_from_db()
    assert connection.state == connection.State.INVALID
    assert "401" in connection.state_reason
    after = sync_connection_incremental(connection=connection)
    assert after.status == SyncRun.Status.SKIPPED
    assert after.requests == 0


def test_a_stored_key_no_encryption_key_opens_fails_the_run_and_frees_the_connection(
    connection, settings
):
    """The API key is decrypted when the sync builds its client: when the portal's encryption
    keys changed without the old one kept, the run fails saying what to do, backs off, and
    leaves the connection free for the next run once the key is back."""
    restored = list(settings.PORTAL_ENCRYPTION_KEYS)
    settings.PORTAL_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    unreadable = type(connection).objects.get(pk=connection.pk)

    run = sync_connection_full(connection=unreadable)

    assert run.status == SyncRun.Status.FAILED and run.error_kind == "key"
    assert "cannot be decrypted" in run.error and "PORTAL_ENCRYPTION_KEYS" in run.error
    assert run.requests == 0 and run.finished_at is not None
    state = SyncState.objects.get(connection=connection)
    assert state.last_error == run.error and state.next_attempt_at > run.finished_at
    settings.PORTAL_ENCRYPTION_KEYS = restored
    after = sync_connection_full(connection=type(connection).objects.get(pk=connection.pk))
    assert after.status == SyncRun.Status.SUCCEEDED, after.error
