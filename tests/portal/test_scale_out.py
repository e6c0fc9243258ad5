"""The portal scaled out as docker-compose.yml runs it: two web processes (gunicorn) and two
Celery workers on one PostgreSQL database and one Redis, all real processes.

The test shows what running more than one of each relies on:

- one sync per connection at a time: two syncs of one connection queued at once, one on each
  worker, and only one of them syncs (the lease on the connection's sync state);
- no task run twice: every task of a batch is run exactly once across the two workers;
- sessions and caches shared: a session opened on one web process works on the other, and
  failed sign-ins counted by one (in the Redis cache) slow the account down on the other;
- a killed worker's task finished by the other: a worker SIGKILLed in the middle of a bulk
  status job; its unacknowledged message comes back after the broker's visibility timeout
  (short here), the other worker runs the same task again and it picks up where the first
  left off: the job finishes and every finding is changed and recorded once.

Needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL); skipped without them.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection as db_connection

from tests.conftest import ROOT, celery_worker_argv, sandbox_connection, worker_answering
from tests.conftest import _database_url_for_test_db as database_url_for_test_db
from tests.factories import MembershipFactory, TeamFactory, UserFactory
from tests.portal.scale_out_tasks import RUNS_KEY, scale_out_probe
from triage import tasks
from triage.models import AuditEvent, Finding, FindingStatusJob, Role, SyncRun

pytestmark = [pytest.mark.worker, pytest.mark.slow]

# The broker hands a killed worker's unacknowledged task to another worker this long after it
# was first delivered (one hour in production). Every task of this test but the killed one
# ends well within it, so none is delivered twice while it runs.
VISIBILITY_TIMEOUT_SECONDS = 20
SETTINGS_MODULE = "tests.portal.scale_out_settings"
PASSWORD = "scale-out-password-1"
JOB_TASK = "triage.tasks_findings.run_finding_status_job"
SYNC_TASK = "triage.tasks.sync_connection"
TARGET = "needs_manual_review"
BUSY = "Another sync of this connection is running."


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(predicate, *, seconds: float, what: str, processes=()):
    """Polls ``predicate`` until it answers something true; fails with the logs of
    ``processes`` if one of them exits or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        for process in processes:
            if process.popen.poll() is not None:
                raise AssertionError(f"{process.name} exited\n{process.log()[-4000:]}")
        time.sleep(0.2)
    logs = "\n".join(f"--- {p.name}\n{p.log()[-3000:]}" for p in processes)
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log_path: Path
    url: str = ""

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def received(self, task: str) -> list[str]:
        """The ids of the ``task`` messages this worker received, in order."""
        return re.findall(rf"Task {re.escape(task)}\[([0-9a-f-]+)\] received", self.log())


@dataclass
class Cluster:
    web: list[Process] = field(default_factory=list)
    workers: list[Process] = field(default_factory=list)

    @property
    def processes(self) -> list[Process]:
        return [*self.web, *self.workers]


def _start(name: str, args: list[str], env: dict[str, str], tmp_path: Path) -> Process:
    log_path = tmp_path / f"{name}.log"
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Process(name=name, popen=popen, log_path=log_path)


def _stop(process: Process) -> None:
    """Stops the process and its children (gunicorn's worker): politely, then for good."""
    if process.popen.poll() is None:
        os.killpg(process.popen.pid, signal.SIGTERM)
        try:
            process.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.popen.pid, signal.SIGKILL)
            process.popen.wait(timeout=10)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def cluster(transactional_db, tmp_path, settings):
    """Two gunicorn web processes and two Celery workers (one task at a time each), sharing
    the test's PostgreSQL database and Redis; stopped, with the queues emptied, afterwards."""
    from portal.celery import app

    if db_connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        pytest.skip("needs PostgreSQL and Redis (DATABASE_URL and REDIS_URL)")
    # The test process reads the shared cache with the processes' own slowdown settings.
    settings.PORTAL_SIGN_IN_SLOWDOWN_AFTER = 1
    settings.PORTAL_SIGN_IN_SLOWDOWN_MAX_SECONDS = 60
    app.control.purge()
    redis.Redis.from_url(os.environ["REDIS_URL"]).delete(RUNS_KEY)
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_test_db(),
        "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
        "DATABASE_CONN_MAX_AGE": "0",
        "PORTAL_BROKER_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT_SECONDS),
        # One PATCH at a time: the bulk job is still running when its worker is killed.
        "PORTAL_STATUS_JOB_CONCURRENCY": "1",
    }
    running = Cluster()
    try:
        for name in ("web-a", "web-b"):
            port = _free_port()
            args = [
                *(sys.executable, "-m", "gunicorn", "portal.wsgi"),
                *("--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4"),
                *("--worker-class", "gthread", "--timeout", "60", "--log-level", "warning"),
            ]
            process = _start(name, args, env, tmp_path)
            process.url = f"http://127.0.0.1:{port}"
            running.web.append(process)
        for name in ("worker-a", "worker-b"):
            args = celery_worker_argv(
                *("--hostname", f"{name}@%h", "--include", "tests.portal.scale_out_tasks")
            )
            running.workers.append(_start(name, args, env, tmp_path))
        for worker in running.workers:
            worker_answering(
                worker.popen, app=app, hostname=worker.name, log_path=worker.log_path, seconds=90
            )
        for web in running.web:
            _wait_for(
                lambda web=web: _healthy(web.url),
                seconds=90,
                what=f"{web.name} to answer /healthz",
                processes=[web],
            )
        yield running
    finally:
        for process in running.processes:
            _stop(process)
        app.control.purge()
        redis.Redis.from_url(os.environ["REDIS_URL"]).delete(RUNS_KEY)


def _sign_in(client: httpx.Client, username: str, password: str) -> httpx.Response:
    page = client.get("/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return client.post(
        "/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
    )


def test_two_web_processes_and_two_workers_share_one_database_and_redis(cluster, tmp_path):
    from sandbox.models import Finding as UpstreamFinding
    from sandbox.services.faults import fault_config_clear, fault_config_set
    from sandbox.services.seed import demo_organization_seed
    from triage.services.findings import finding_status_job_create
    from triage.sign_in import sign_in_wait_seconds

    web_a, web_b = cluster.web
    organization, key, _ = demo_organization_seed(slug="acme-scale", name="Acme Scale")
    team = TeamFactory(slug="scale-team")
    ada = MembershipFactory(
        team=team, role=Role.TRIAGER, user=UserFactory(username="ada", password=PASSWORD)
    ).user
    # The sandbox is served by web process A, as Kolega would be by its own servers.
    connection = sandbox_connection(team, organization, key, base_url=f"{web_a.url}/sandbox")

    # One sync per connection at a time: two queued at once, one taken by each worker.
    fault_config_set(organization=organization, latency_ms=20)
    tasks.sync_connection.delay(connection.pk, SyncRun.Kind.FULL)
    tasks.sync_connection.delay(connection.pk, SyncRun.Kind.FULL)

    def both_ended():
        runs = SyncRun.objects.filter(connection=connection)
        return runs.count() == 2 and not runs.filter(status__in=["queued", "running"]).exists()

    _wait_for(both_ended, seconds=90, what="both syncs to end", processes=cluster.processes)
    fault_config_clear(organization=organization)
    synced = SyncRun.objects.get(connection=connection, status=SyncRun.Status.SUCCEEDED)
    skipped = SyncRun.objects.get(connection=connection, status=SyncRun.Status.SKIPPED)
    assert skipped.error == BUSY
    # Turned away while the other held the lease: the two ran at the same time.
    assert skipped.finished_at < synced.finished_at
    assert [len(w.received(SYNC_TASK)) for w in cluster.workers] == [1, 1]
    assert Finding.objects.filter(connection=connection).count() > 30

    # No task run twice: a batch spread over both workers, each task run exactly once (read
    # again at the end of the test, after the visibility timeout has passed).
    for number in range(30):
        scale_out_probe.delay(number)
    runs_store = redis.Redis.from_url(os.environ["REDIS_URL"])
    _wait_for(
        lambda: runs_store.llen(RUNS_KEY) >= 30,
        seconds=60,
        what="the batch to run",
        processes=cluster.processes,
    )

    # A killed worker's task finished by the other: a bulk status job, slowed down so that it
    # is still running when its worker is killed.
    findings = list(
        Finding.objects.filter(connection=connection, status="open").order_by("pk")[:20]
    )
    fault_config_set(organization=organization, latency_ms=300)
    ids = [finding.pk for finding in findings]
    job = finding_status_job_create(team=team, actor=ada, finding_ids=ids, status=TARGET)
    doomed = _wait_for(
        lambda: next((w for w in cluster.workers if w.received(JOB_TASK)), None),
        seconds=60,
        what="a worker to take the job",
        processes=cluster.processes,
    )
    survivor = next(w for w in cluster.workers if w is not doomed)
    _wait_for(
        lambda: job.items.exclude(outcome="pending").exists(),
        seconds=60,
        what="the job to be under way",
        processes=cluster.processes,
    )
    doomed.popen.send_signal(signal.SIGKILL)  # mid-job: no chance to acknowledge or record
    doomed.popen.wait(timeout=10)
    fault_config_clear(organization=organization)
    job.refresh_from_db()
    assert job.state == FindingStatusJob.State.RUNNING
    assert job.items.filter(outcome="pending").exists()

    # While the broker holds the killed worker's message: sessions and the cache are shared.
    cookie = django_settings.SESSION_COOKIE_NAME
    with httpx.Client(base_url=web_a.url, timeout=30) as on_a:
        signed_in = _sign_in(on_a, "ada", PASSWORD)
        assert signed_in.status_code == 302, signed_in.text[-2000:]
        session = {cookie: on_a.cookies[cookie]}
    with httpx.Client(base_url=web_b.url, timeout=30, cookies=session) as on_b:
        page = on_b.get(f"/t/{team.slug}/findings/")
        assert page.status_code == 200
        assert "Account menu: </span>ada · Triager" in page.text
    with httpx.Client(base_url=web_b.url, timeout=30) as on_b:
        assert on_b.get(f"/t/{team.slug}/findings/").status_code == 302  # no session: sign in

    # Failed sign-ins counted on A (each once the account accepts another attempt)... (A name
    # of this run's own: the cache outlives the test's database.)
    bea = UserFactory(username=f"bea-{secrets.token_hex(4)}", password=PASSWORD).username
    with httpx.Client(base_url=web_a.url, timeout=30) as on_a:
        for _ in range(4):
            _wait_for(
                lambda: sign_in_wait_seconds(bea) == 0,
                seconds=30,
                what="the account to accept an attempt",
            )
            refused = _sign_in(on_a, bea, "not-the-password")
            assert refused.status_code == 200 and "correct username and password" in refused.text
    # ...make the account wait on B (8 s after the fourth), even with the right password.
    with httpx.Client(base_url=web_b.url, timeout=30) as on_b:
        waiting = _sign_in(on_b, bea, PASSWORD)
        assert "accepts one attempt at a time" in waiting.text
        assert cookie not in on_b.cookies

    # The survivor receives the same message again and finishes the job.
    def finished():
        job.refresh_from_db()
        return job.state == FindingStatusJob.State.FINISHED

    _wait_for(
        finished,
        seconds=VISIBILITY_TIMEOUT_SECONDS + 60,
        what="the other worker to finish the job",
        processes=[*cluster.web, survivor],
    )
    assert survivor.received(JOB_TASK) == doomed.received(JOB_TASK)  # the very same message
    assert job.runs == 2
    assert Counter(job.items.values_list("outcome", flat=True)) == {"changed": len(findings)}
    upstream_ids = [finding.upstream_id for finding in findings]
    assert set(
        UpstreamFinding.objects.filter(id__in=upstream_ids).values_list("status", flat=True)
    ) == {TARGET}
    changes = AuditEvent.objects.filter(action="finding.status_change")
    assert Counter(changes.values_list("target_id", flat=True)) == {
        str(finding.pk): 1 for finding in findings
    }

    runs = [entry.decode().split() for entry in runs_store.lrange(RUNS_KEY, 0, -1)]
    assert Counter(int(number) for number, _ in runs) == dict.fromkeys(range(30), 1)
    assert {host.split("@")[0] for _, host in runs} == {"worker-a", "worker-b"}
