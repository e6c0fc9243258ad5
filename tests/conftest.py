import httpx
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client

from tests.factories import MembershipFactory, TeamFactory, UserFactory
from triage.clients import override_transport
from triage.models import Role

SANDBOX_BASE_URL = "http://sandbox.test/sandbox"


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
def client_as():
    """A test client signed in as ``user``."""

    def make(user, *, enforce_csrf_checks=False):
        client = Client(enforce_csrf_checks=enforce_csrf_checks)
        client.force_login(user)
        return client

    return make
