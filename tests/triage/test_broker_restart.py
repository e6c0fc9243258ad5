"""Redis restarted under a running worker: the worker reconnects, and the bulk status job it was
running and the pull-request opening queued behind it both finish, once.

The test starts its own redis-server on a free port, with the append-only file on (as the
compose stack runs the broker), in a temporary directory: never the machine's shared Redis.
Needs PostgreSQL (the worker is a separate process reading the test's rows).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection as db_connection

from tests.conftest import _database_url_for_test_db, worker_answering, worker_stopped
from tests.factories import MembershipFactory, UserFactory
from triage.models import (
    AuditEvent,
    Finding,
    FindingStatusJob,
    KolegaConnection,
    PullRequestOpening,
    Role,
)
from triage.services.approvals import approval_decide, approval_request, pull_requests_open
from triage.services.connections import connection_create
from triage.services.findings import finding_status_job_create
from triage.services.fixes import fix_start
from triage.sync import fix_track_step, sync_connection_full

pytestmark = [pytest.mark.worker, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server of the test's own, restartable on the same port and data directory."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # redis writes its append-only file and exits
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def own_redis(tmp_path):
    if db_connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL): the worker is another process")
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


def _drop_connections(app) -> None:
    # Not `app.close()`: that also unregisters the app, and shared tasks imported later
    # would no longer be found in it.
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker_app(own_redis):
    """The test process's Celery app publishing to the test's own Redis."""
    from portal.celery import app

    app.set_current()  # shared tasks resolve in the current app; another test may have made one
    previous = app.conf.broker_url, app.conf.broker_transport_options
    _drop_connections(app)
    app.conf.broker_url = own_redis.url
    app.conf.broker_transport_options = {"visibility_timeout": 3600}
    yield app
    _drop_connections(app)
    app.conf.broker_url, app.conf.broker_transport_options = previous


@pytest.fixture
def worker_on_own_redis(transactional_db, own_redis, broker_app, tmp_path):
    hostname = f"restart-worker-{os.getpid()}"
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url_for_test_db(),
        "REDIS_URL": own_redis.url,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_CONN_MAX_AGE": "0",
        # One PATCH at a time, so the bulk job below is still running across the restart.
        "PORTAL_STATUS_JOB_CONCURRENCY": "1",
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            # As `make run` starts it (prefork pool), with one process so the pull-request
            # opening waits in Redis while the bulk job runs.
            [
                *(sys.executable, "-m", "celery", "-A", "portal", "worker"),
                *("--concurrency", "1", "--loglevel", "INFO", "--hostname", f"{hostname}@%h"),
            ],
            env=env,
            cwd=str(REPO_ROOT),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    worker_answering(process, app=broker_app, hostname=hostname, log_path=log_path)
    process.log_path = log_path
    try:
        yield process
    finally:
        worker_stopped(process)


def _wait_for(predicate, *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_worker_survives_a_redis_restart_and_queued_work_finishes_once(
    live_server, team, sandbox_clock, own_redis, worker_on_own_redis
):
    from sandbox.models import PullRequest as SandboxPullRequest
    from sandbox.services.faults import fault_config_clear, fault_config_set
    from sandbox.services.seed import demo_organization_seed

    organization, key, _ = demo_organization_seed(slug="acme-restart", name="Acme Restart")
    admin = MembershipFactory(team=team, role=Role.ADMIN, user=UserFactory(username="ada")).user
    triager = MembershipFactory(team=team, role=Role.TRIAGER, user=UserFactory()).user
    approver = MembershipFactory(team=team, role=Role.APPROVER, user=UserFactory()).user
    created = connection_create(
        team=team, actor=admin, name="Acme", base_url=live_server.url + "/sandbox", api_key=key
    )
    connection = KolegaConnection.objects.get(pk=created.pk)
    assert sync_connection_full(connection=connection).status == "succeeded"

    # A completed fix, ready for its pull requests.
    fixed = list(
        Finding.objects.filter(connection=connection, status="open", scan_type="semgrep_scan")
        .order_by("repository_id", "file_path", "pk")
        .values_list("pk", "repository_id", "file_path")
    )
    first = fixed[0]
    same_file = [pk for pk, repo, path in fixed if (repo, path) == first[1:]][:2]
    repository = Finding.objects.get(pk=first[0]).repository
    fix = fix_start(
        team=team,
        actor=triager,
        finding_ids=same_file,
        title="Fix the findings",
        instructions="Use parameterized queries.",
        source_repo=repository.source_repos[0]["full_name"],
    )
    sandbox_clock.advance(600)
    for _ in range(5):
        if fix_track_step(fix=fix):
            break
    fix.refresh_from_db()
    assert fix.status == "completed"

    # A bulk job on findings the fix does not touch, slow enough to be running at the restart.
    job_findings = list(
        Finding.objects.filter(connection=connection, status="open")
        .exclude(pk__in=same_file)
        .order_by("pk")[:6]
    )
    fault_config_set(organization=organization, slow_ms=1500)
    job = finding_status_job_create(
        team=team,
        actor=admin,
        finding_ids=[f.pk for f in job_findings],
        status="resolved",
    )
    _wait_for(
        lambda: job.items.exclude(outcome="pending").exists(), seconds=30, what="the job to start"
    )
    # Queued behind the running job (the worker runs one task at a time).
    approval = approval_request(fix=fix, actor=triager)
    approval_decide(approval=approval, actor=approver, approve=True)
    pull_requests_open(fix=fix, actor=triager)
    opening = PullRequestOpening.objects.get(fix=fix)

    own_redis.stop()
    time.sleep(2)
    own_redis.start()
    job.refresh_from_db()
    opening.refresh_from_db()
    # The restart came while the job ran and the opening waited in Redis.
    assert (job.state, opening.status) == (FindingStatusJob.State.RUNNING, "pending")
    fault_config_clear(organization=organization)

    def finished() -> bool:
        job.refresh_from_db()
        opening.refresh_from_db()
        return job.state == FindingStatusJob.State.FINISHED and opening.status == "opened"

    _wait_for(finished, seconds=120, what="the job and the opening to finish")
    log = worker_on_own_redis.log_path.read_text()
    assert worker_on_own_redis.poll() is None, log
    assert "Connection to broker lost" in log  # the worker did see the restart
    assert "AttributeError" not in log
    assert (job.changed, job.failed) == (6, 0)
    assert set(job.items.values_list("outcome", flat=True)) == {"changed"}
    assert (
        AuditEvent.objects.filter(action="finding.status_change", details__job=job.pk).count() == 6
    )
    # One repository, one pull request: the opening was sent once.
    assert SandboxPullRequest.objects.filter(fix_id=fix.upstream_id).count() == 1
    assert PullRequestOpening.objects.filter(fix=fix).count() == 1
    # The worker is still consuming after the restart: a new job runs too.
    more = finding_status_job_create(
        team=team, actor=admin, finding_ids=[job_findings[0].pk], status="open"
    )
    _wait_for(
        lambda: FindingStatusJob.objects.get(pk=more.pk).state == FindingStatusJob.State.FINISHED,
        seconds=60,
        what="a job queued after the restart",
    )
