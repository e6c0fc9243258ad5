import random
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import httpx
import pytest

from tests.conftest import SANDBOX_BASE_URL
from tests.sandbox_rows import payments_repository
from tests.triage.kolega.sandbox_data import SOURCE_TREES
from tests.triage.kolega.transports import RecordingTransport
from triage.kolega import KolegaClient


@pytest.fixture
def sleeps() -> list[float]:
    """The client's waits, recorded instead of slept."""
    return []


@pytest.fixture
def sandbox_transport(sandbox_wsgi) -> RecordingTransport:
    """The sandbox app in-process, with every request and response kept for inspection."""
    return RecordingTransport(sandbox_wsgi)


@pytest.fixture
def make_kolega(sleeps: list[float]) -> Iterator[Callable[..., KolegaClient]]:
    with ExitStack() as clients:

        def make(
            *,
            api_key: str,
            transport: httpx.BaseTransport,
            base_url: str = SANDBOX_BASE_URL,
            **kwargs,
        ) -> KolegaClient:
            client = KolegaClient(
                base_url=base_url,
                api_key=api_key,
                transport=transport,
                sleep=sleeps.append,
                rng=random.Random(1234),
                **kwargs,
            )
            return clients.enter_context(client)

        yield make


@pytest.fixture
def sandbox_org(db):
    """A sandbox organization and its plaintext read/write key."""
    from sandbox.services.organizations import organization_create

    return organization_create(name="Client Test Org", slug="client-test")


@pytest.fixture
def kolega(make_kolega, sandbox_org, sandbox_transport) -> KolegaClient:
    return make_kolega(api_key=sandbox_org[1], transport=sandbox_transport)


@pytest.fixture
def repository(sandbox_org, sandbox_clock):
    """A sandbox repository with one source repo holding planted secrets."""
    return payments_repository(sandbox_org[0], SOURCE_TREES)
