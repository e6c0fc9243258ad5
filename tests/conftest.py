import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client

from tests.factories import KolegaConnectionFactory, MembershipFactory, TeamFactory, UserFactory
from triage.clients import override_transport
from triage.kolega import KolegaClient
from triage.models import KolegaConnection, Role

pytest_plugins = [
    # `loopback_only` and `local_server`, for tests of outbound requests.
    "tests.outbound_fixtures",
    # `smtp_server`: a real SMTP server (aiosmtpd) that keeps what it is sent.
    "tests.smtp_fixtures",
    # `http_receiver`: a real HTTP server on 127.0.0.1 that records what notifications post.
    "tests.http_receiver",
    # One closing line naming the browser and worker tests a run skipped.
    "tests.skipped_summary",
]

SANDBOX_BASE_URL = "http://sandbox.test/sandbox"


def pytest_collection_modifyitems(items):
    # A test that runs a real worker is a worker test, whether or not its module says so:
    # `make test-quick` leaves it out, and a run that skips it says so at the end.
    for item in items:
        if "celery_worker_process" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.worker)


# The repository's root, where ``manage.py`` is.
ROOT = Path(__file__).resolve().parent.parent


class InProcessWSGI:
    """The project's WSGI app, called in-process by httpx (and so the sandbox).

    Like Django's test client, it keeps the request cycle from closing the test's database
    connection, so the sandbox sees the data the test made inside its transaction. The
    signals are detached around each call (a test client request around it re-attaches them).
    """

    def __init__(self):
        self.handler = WSGIHandler()

    def __call__(self, environ, start_response):
        detached = [
            signal
            for signal in (request_started, request_finished)
            if signal.disconnect(close_old_connections)
        ]
        try:
            response = self.handler(environ, start_response)
            try:
                return [b"".join(response)]
            finally:
                response.close()
        finally:
            for signal in detached:
                signal.connect(close_old_connections)


@pytest.fixture
def sandbox_wsgi(db) -> httpx.WSGITransport:
    """An httpx transport into the sandbox, in-process, sharing the test's transaction."""
    return httpx.WSGITransport(app=InProcessWSGI())


SANDBOX_ADMIN_TOKEN = "admin-token"


@pytest.fixture
def sandbox_control(sandbox_wsgi, settings):
    """``sandbox_control(action, pr_url)``: ``merge`` or ``close`` a pull request through the
    sandbox's operator endpoints, over HTTP; answers the pull request's body."""
    settings.SANDBOX_ADMIN_TOKEN = SANDBOX_ADMIN_TOKEN

    def control(action: str, pr_url: str) -> dict:
        with httpx.Client(transport=sandbox_wsgi, base_url="http://testserver/sandbox") as client:
            response = client.post(
                f"/control/pull-requests/{action}",
                json={"pr_url": pr_url},
                headers={"X-Sandbox-Admin-Token": SANDBOX_ADMIN_TOKEN},
            )
        assert response.status_code == 200, response.text
        return response.json()

    return control


@pytest.fixture
def sandbox_transport(sandbox_wsgi):
    """Route every Kolega request of the portal into the sandbox app."""
    with override_transport(sandbox_wsgi):
        yield sandbox_wsgi


@pytest.fixture
def sandbox_org(db):
    """A sandbox organization and the plaintext of its read/write key."""
    from sandbox.services.organizations import organization_create

    organization, key = organization_create(name="Acme Test Org")
    return organization, key


@pytest.fixture
def team(db):
    return TeamFactory(slug="blue", name="Blue Team")


@pytest.fixture
def other_team(db):
    return TeamFactory(slug="red", name="Red Team")


@pytest.fixture
def member(team):
    """Make a user with ``role`` in ``team`` (default: the ``team`` fixture)."""

    def make(role: Role, *, of=None, username=None):
        kwargs = {"username": username} if username else {}
        return MembershipFactory(team=of or team, role=role, user=UserFactory(**kwargs)).user

    return make


@pytest.fixture
def pull_requests_open_on_approval(team):
    """The team's policy opens pull requests as soon as a fix is approved (off by default)."""
    from triage.models import TeamApprovalPolicy

    TeamApprovalPolicy.objects.update_or_create(
        team=team, defaults={"open_pull_requests_on_approval": True}
    )


@pytest.fixture
def admin(member):
    return member(Role.ADMIN, username="ada")


@pytest.fixture
def triager(member):
    return member(Role.TRIAGER, username="tess")


@pytest.fixture
def approver(member):
    return member(Role.APPROVER, username="abe")


@pytest.fixture
def demo_org(db, sandbox_clock):
    """The sandbox's demo organization (real source trees, a scan history, a few verdicts)
    and the plaintext of its key."""
    from sandbox.services.seed import demo_organization_seed

    organization, key, _ = demo_organization_seed(slug="acme-demo", name="Acme Demo")
    return organization, key


def sandbox_connection(
    team, organization, key: str, *, base_url: str = SANDBOX_BASE_URL
) -> KolegaConnection:
    """The team's connection to the sandbox ``organization`` with its ``key``, stored without a
    key check and not yet synced; ``base_url``: the sandbox served by a real server."""
    created = KolegaConnectionFactory(
        team=team,
        name="Acme",
        base_url=base_url,
        api_key=key,
        organization_id=str(organization.id),
    )
    # Read back: the stored key is the encrypted field, as every other caller sees it.
    return KolegaConnection.objects.get(pk=created.pk)


@pytest.fixture
def connection(team, demo_org, sandbox_transport) -> KolegaConnection:
    """The team's connection to ``demo_org``, stored without a key check and not yet synced."""
    return sandbox_connection(team, *demo_org)


@pytest.fixture
def upstream(demo_org, sandbox_wsgi) -> Iterator[KolegaClient]:
    """The same organization seen by the test itself, to compare with the mirror."""
    with KolegaClient(
        base_url=SANDBOX_BASE_URL, api_key=demo_org[1], transport=sandbox_wsgi
    ) as client:
        yield client


@pytest.fixture
def client_as():
    """A test client signed in as ``user``."""

    def make(user, *, enforce_csrf_checks=False):
        client = Client(enforce_csrf_checks=enforce_csrf_checks)
        client.force_login(user)
        return client

    return make


def celery_argv(*options: str) -> list[str]:
    """The command of a Celery worker of the portal with ``options``."""
    return [sys.executable, "-m", "celery", "-A", "portal", "worker", *options]


def celery_worker_argv(*options: str) -> list[str]:
    """The command of one Celery worker of the portal, one task at a time, in the foreground."""
    return celery_argv(
        "--pool=solo", "--without-gossip", "--without-mingle", "--loglevel=INFO", *options
    )


def _database_url_for_test_db() -> str:
    from django.db import connection

    params = connection.settings_dict
    user = params.get("USER") or "postgres"
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{params['NAME']}"


def wait_until(predicate, seconds: float = 60, *, every: float = 0.2) -> bool:
    """Polls ``predicate`` until it holds (True) or ``seconds`` have passed (False)."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


@contextmanager
def celery_worker_running(*options: str, hostname: str, stdout=None) -> Iterator:
    """A Celery worker of the portal in its own process, on Redis and the test database,
    named ``hostname``, for the ``with`` block: it answers a ping before the block starts, and
    is stopped after it. Needs PostgreSQL and REDIS_URL (CI has both): the test is skipped
    elsewhere. ``stdout``: a file for the worker's log."""
    import os
    import subprocess

    from django.db import connection

    from portal.celery import app

    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        pytest.skip("needs PostgreSQL and Redis (DATABASE_URL and REDIS_URL)")
    app.control.purge()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url_for_test_db(),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_CONN_MAX_AGE": "0",
    }
    process = subprocess.Popen(
        celery_worker_argv("--concurrency", "1", "--hostname", f"{hostname}@%h", *options),
        env=env,
        cwd=ROOT,
        stdout=stdout,
        stderr=subprocess.STDOUT if stdout else None,
    )
    try:
        worker_answering(process, app=app, hostname=hostname)
        yield process
    finally:
        worker_stopped(process)
        app.control.purge()


def worker_answering(process, *, app, hostname: str, log_path=None, seconds: float = 30) -> None:
    """Waits until the worker ``hostname`` answers a ping of ``app``'s broker; raises (with its
    log, when it has one) if it exits or stays silent."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = log_path.read_text() if log_path else ""
            raise RuntimeError(f"the Celery worker exited at start\n{log}")
        replies = app.control.ping(timeout=0.5)
        if any(name.startswith(f"{hostname}@") for r in replies for name in r):
            return
    process.kill()
    raise RuntimeError(f"the Celery worker did not start within {seconds:.0f} s")


def worker_stopped(process) -> None:
    """Stops a worker process: politely, then for good after ten seconds."""
    import subprocess

    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def celery_worker_process(transactional_db):
    """A real Celery worker in its own process, on Redis, using the test database.

    Needs PostgreSQL and REDIS_URL (CI has both); skipped elsewhere. Tests using it see their
    rows committed (transactional_db) so the worker reads what the test wrote.
    """
    import os

    with celery_worker_running(hostname=f"test-worker-{os.getpid()}") as process:
        yield process


@pytest.fixture
def sandbox_clock(settings) -> Iterator:
    """Sandbox time stopped at the real time and moved on by the tests (scans and fixes
    progress with it, at the nominal speed), back to normal afterwards."""
    from sandbox import clock

    settings.SANDBOX_TIME_SCALE = 1.0
    clock.freeze(datetime.now(UTC))
    yield clock
    clock.reset()
