from collections.abc import Iterator

import pytest

from tests.conftest import SANDBOX_BASE_URL
from tests.factories import MembershipFactory, UserFactory
from triage.kolega import KolegaClient
from triage.models import KolegaConnection, Role
from triage.services.connections import connection_create
from triage.sync import sync_connection_full


@pytest.fixture
def demo_org(db, sandbox_clock):
    from sandbox.services.seed import demo_organization_seed

    organization, key, _ = demo_organization_seed(slug="acme-findings", name="Acme Findings")
    return organization, key


@pytest.fixture
def admin(team):
    return MembershipFactory(team=team, role=Role.ADMIN, user=UserFactory(username="ada")).user


@pytest.fixture
def connection(team, admin, demo_org, sandbox_transport) -> KolegaConnection:
    _, key = demo_org
    created = connection_create(
        team=team, actor=admin, name="Acme", base_url=SANDBOX_BASE_URL, api_key=key
    )
    # Read back: the stored key is the encrypted field, as every other caller sees it.
    return KolegaConnection.objects.get(pk=created.pk)


@pytest.fixture
def synced(connection) -> KolegaConnection:
    run = sync_connection_full(connection=connection)
    assert run.status == "succeeded", run.error
    return connection


@pytest.fixture
def upstream(demo_org, sandbox_wsgi) -> Iterator[KolegaClient]:
    """The same organization seen by the test itself, to compare with the mirror."""
    with KolegaClient(
        base_url=SANDBOX_BASE_URL, api_key=demo_org[1], transport=sandbox_wsgi
    ) as client:
        yield client
