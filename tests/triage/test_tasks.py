"""Sync and tracking tasks under a real Celery worker (Redis broker, the test database).

The worker is a subprocess; it reaches the sandbox through Django's live server and the
test's PostgreSQL database through DATABASE_URL, so these tests commit for real.
"""

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from celery import Celery
from django.db import connection as db_connection
from django.utils import timezone

from tests.conftest import celery_worker_argv
from tests.factories import KolegaConnectionFactory, TeamFactory
from tests.triage.sync.mirror_equality import mirror_differences
from triage import tasks
from triage.clients import kolega_outbound_policy
from triage.kolega import KolegaClient, iter_all
from triage.models import KolegaConnection, ScanBatch, SyncRun, SyncState
from triage.sync import scan_batch_mirror, tracking

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("PORTAL_TEST_WORKER_REDIS_URL", "redis://127.0.0.1:6379/13")


def _wait_for(predicate: Callable[[], object], *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def worker_env_lease_seconds() -> int:
    return 3


@pytest.fixture
def worker_env(transactional_db, settings) -> dict[str, str]:
    if db_connection.vendor != "postgresql":
        pytest.skip("a worker process needs a database server it can share with the test")
    import redis

    try:
        redis.Redis.from_url(REDIS_URL).flushdb()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis server")
    database = db_connection.settings_dict
    # The lease of a killed worker lapses quickly, and tracking polls every second.
    settings.PORTAL_SYNC_LEASE_SECONDS = worker_env_lease_seconds()
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": (
                f"postgres://{database['USER']}:{database['PASSWORD'] or ''}@"
                f"{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/{database['NAME']}"
            ),
            "REDIS_URL": REDIS_URL,
            "PORTAL_SYNC_LEASE_SECONDS": str(worker_env_lease_seconds()),
            "PORTAL_TRACK_POLL_SECONDS": "1",
            "DATABASE_CONN_MAX_AGE": "0",
        }
    )
    return env


@pytest.fixture
def start_worker(worker_env) -> Iterator[Callable[[], subprocess.Popen]]:
    started: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        process = subprocess.Popen(
            celery_worker_argv("--without-heartbeat"),
            cwd=ROOT,
            env=worker_env,
            start_new_session=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture
def send_task() -> Iterator[Callable[..., None]]:
    # Not made the current app: the portal's code queues through the current app, and an
    # app without the portal's routes and broker options would be used by every later test.
    app = Celery(broker=REDIS_URL, set_as_current=False)
    yield lambda name, *args: app.send_task(name, args=list(args))
    app.close()


@pytest.fixture
def live_org(transactional_db, live_server, settings):
    from sandbox.services.seed import demo_organization_seed

    settings.SANDBOX_TIME_SCALE = 0.02
    organization, key, _ = demo_organization_seed(slug="acme-worker", name="Acme Worker")
    team = TeamFactory(slug="worker-team")
    created = KolegaConnectionFactory(
        team=team,
        name="Acme",
        base_url=f"{live_server.url}/sandbox",
        api_key=key,
        organization_id=str(organization.id),
    )
    connection = KolegaConnection.objects.get(pk=created.pk)
    with KolegaClient(
        base_url=connection.base_url, api_key=key, outbound_policy=kolega_outbound_policy()
    ) as client:
        yield organization, connection, client


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_sync_is_followed_by_a_run_that_ends_equal(
    live_org, start_worker, send_task
):
    from sandbox.services.faults import fault_config_clear, fault_config_set

    organization, connection, upstream = live_org
    # Slow answers, so the kill lands while the sync is writing pages.
    fault_config_set(organization=organization, latency_ms=60)
    worker = start_worker()
    send_task("triage.tasks.sync_connection", connection.pk, "full")
    run = _wait_for(
        lambda: SyncRun.objects.filter(
            connection=connection, status=SyncRun.Status.RUNNING, rows_written__gt=0
        ).first(),
        timeout=60,
        what="the sync to be writing",
    )
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    run.refresh_from_db()
    assert run.status == SyncRun.Status.RUNNING  # nobody finished it
    fault_config_clear(organization=organization)
    # The dead worker's lease lapses first; a run sent before that is (rightly) skipped.
    time.sleep(int(worker_env_lease_seconds()) + 1)

    start_worker()
    send_task("triage.tasks.sync_connection", connection.pk, "full")
    _wait_for(
        lambda: SyncRun.objects.filter(
            connection=connection, status=SyncRun.Status.SUCCEEDED
        ).exists(),
        timeout=240,  # a full sync of the demo organization under a loaded CI machine
        what="a new sync to succeed",
    )

    assert mirror_differences(connection, upstream) == []
    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED and run.error_kind == "worker_lost"


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_tracking_tasks_follow_a_scan_batch_to_its_findings_under_a_worker(
    live_org, start_worker, send_task, settings
):
    from triage.sync import sync_connection_full

    _, connection, upstream = live_org
    start_worker()
    repository = next(iter_all(upstream.list_repositories))
    sync_connection_full(connection=connection)
    # At full scale a batch takes about 20 s: several polls before it finishes.
    settings.SANDBOX_TIME_SCALE = 1.0
    started = upstream.create_scan(repository_id=repository.id, scan_type="semgrep_scan")
    batch = scan_batch_mirror(connection=connection, batch=started)

    send_task("triage.tasks.track_scan_batch", batch.pk)

    tracked = _wait_for(
        lambda: ScanBatch.objects.filter(pk=batch.pk, findings_synced_at__isnull=False).first(),
        timeout=90,
        what="the batch to be tracked to completion",
    )
    assert tracked.status == "completed" and tracked.percent_complete == 100
    assert tracked.polls >= 2 and tracked.next_poll_at is None
    listed = {
        f.id
        for f in iter_all(
            upstream.list_findings, repository_id=repository.id, scan_batch_id=started.batch_id
        )
    }
    assert set(tracked.findings.values_list("upstream_id", flat=True)) == listed


@pytest.fixture
def queued(monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.sync_connection, "delay", lambda *args: sent.append(args))
    return sent


@pytest.mark.django_db
def test_beat_syncs_active_connections_except_those_backing_off(queued):
    ready = KolegaConnectionFactory()
    backing_off = KolegaConnectionFactory()
    SyncState.objects.create(
        connection=backing_off, next_attempt_at=timezone.now() + timedelta(minutes=5)
    )
    KolegaConnectionFactory(state=KolegaConnection.State.INVALID)
    KolegaConnectionFactory(state=KolegaConnection.State.DISABLED)

    assert tasks.sync_due_connections() == 1
    assert queued == [(ready.pk, "incremental")]


@pytest.mark.django_db
def test_nightly_reconciliation_covers_every_active_connection(queued):
    first, second = KolegaConnectionFactory(), KolegaConnectionFactory()
    KolegaConnectionFactory(state=KolegaConnection.State.INVALID)

    assert tasks.reconcile_connections() == 2
    assert sorted(queued) == sorted([(first.pk, "reconcile"), (second.pk, "reconcile")])


def test_tasks_retry_only_transient_failures_and_never_wait_past_the_visibility_timeout(
    settings,
):
    from triage.kolega import KolegaUnavailable

    for task in (tasks.sync_connection, tasks.track_scan_batch, tasks.track_fix):
        assert task.acks_late and task.reject_on_worker_lost
        assert task.autoretry_for == (KolegaUnavailable,)
        assert task.retry_backoff_max < settings.CELERY_BROKER_TRANSPORT_OPTIONS.get(
            "visibility_timeout", 3600
        )
    assert tracking.track_poll_seconds() < 60
