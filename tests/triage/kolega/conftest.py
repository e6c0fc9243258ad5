import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections

from tests.triage.kolega.sandbox_data import SOURCE_TREES
from tests.triage.kolega.transports import RecordingTransport
from triage.kolega import KolegaClient

SANDBOX_BASE_URL = "http://sandbox.test/sandbox"


@pytest.fixture
def sleeps() -> list[float]:
    """The client's waits, recorded instead of slept."""
    return []


@pytest.fixture
def sandbox_transport() -> Iterator[RecordingTransport]:
    """The sandbox app over WSGI, with every request and response kept for inspection.

    Django closes the database connection at the start and end of every request; inside a
    test that connection holds the test's transaction, so (as Django's own test client does)
    the closing is switched off while the sandbox is called in-process.
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield RecordingTransport(httpx.WSGITransport(app=get_wsgi_application()))
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def make_kolega(sleeps: list[float]) -> Iterator[Callable[..., KolegaClient]]:
    clients: list[KolegaClient] = []

    def make(
        *, api_key: str, transport: httpx.BaseTransport, base_url: str = SANDBOX_BASE_URL, **kwargs
    ) -> KolegaClient:
        client = KolegaClient(
            base_url=base_url,
            api_key=api_key,
            transport=transport,
            sleep=sleeps.append,
            rng=random.Random(1234),
            **kwargs,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def sandbox_org(db):
    """A sandbox organization and its plaintext read/write key."""
    from sandbox.services.organizations import organization_create

    return organization_create(name="Client Test Org", slug="client-test")


@pytest.fixture
def kolega(make_kolega, sandbox_org, sandbox_transport) -> KolegaClient:
    return make_kolega(api_key=sandbox_org[1], transport=sandbox_transport)


@pytest.fixture
def sandbox_time(settings):
    """Sandbox time stopped now, moved on by the tests. It starts at the real time because
    the client compares the server's timestamps with its own clock when it reconciles."""
    from sandbox import clock

    settings.SANDBOX_TIME_SCALE = 1.0
    clock.freeze(datetime.now(UTC))
    yield clock
    clock.reset()


@pytest.fixture
def repository(sandbox_org, sandbox_time):
    """A sandbox repository with one source repo holding planted secrets."""
    from sandbox.services.repositories import repository_create

    return repository_create(
        organization=sandbox_org[0],
        name="Payments",
        description="Payments service",
        source_trees={name: dict(files) for name, files in SOURCE_TREES.items()},
    )
