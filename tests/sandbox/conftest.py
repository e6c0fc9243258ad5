import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime

import httpx
import pytest

from sandbox import clock
from sandbox.models import Organization
from sandbox.services.organizations import organization_create
from tests.sandbox_rows import payments_repository

BASE_URL = "http://testserver/sandbox/api/v1"


@pytest.fixture(autouse=True)
def sandbox_clock() -> Iterator[None]:
    clock.reset()
    yield
    clock.reset()


@pytest.fixture
def wsgi_transport(sandbox_wsgi) -> httpx.WSGITransport:
    """The Django app over in-process HTTP, sharing the test's database transaction."""
    return sandbox_wsgi


@pytest.fixture
def make_client(wsgi_transport: httpx.WSGITransport) -> Iterator[Callable[..., httpx.Client]]:
    with ExitStack() as clients:

        def make(key: str | None) -> httpx.Client:
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            client = httpx.Client(transport=wsgi_transport, base_url=BASE_URL, headers=headers)
            return clients.enter_context(client)

        yield make


@pytest.fixture
def org_and_key(db) -> tuple[Organization, str]:
    return organization_create(name="Acme Corp", slug="acme")


@pytest.fixture
def api(org_and_key, make_client) -> httpx.Client:
    return make_client(org_and_key[1])


@pytest.fixture
def fake_scanner(monkeypatch):
    from tests.sandbox.fake_scanner import as_module

    monkeypatch.setitem(sys.modules, "sandbox.scanning", as_module())


@pytest.fixture
def frozen_clock(settings):
    """Sandbox time stopped at a fixed instant, at the nominal pace."""
    settings.SANDBOX_TIME_SCALE = 1.0
    clock.freeze(datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    return clock


TINY_TREES = {
    "acme/api": {
        "app/settings.py": 'import os\n\nDEBUG = False\npassword = "hunter2"\n',
        "app/db.py": 'def connect():\n    password = "s3cret"\n    return password\n',
    },
    "acme/worker": {"worker/main.py": 'password = "letmein"\nprint("ok")\n'},
}


@pytest.fixture
def tiny_repository(org_and_key, fake_scanner):
    return payments_repository(org_and_key[0], TINY_TREES)
