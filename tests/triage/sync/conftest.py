from collections.abc import Iterator

import pytest

from tests.conftest import SANDBOX_BASE_URL
from tests.factories import KolegaConnectionFactory
from triage.kolega import KolegaClient
from triage.models import KolegaConnection


@pytest.fixture
def demo_org(db, sandbox_clock):
    """The sandbox's demo organization: real source trees, a scan history, a few verdicts."""
    from sandbox.services.seed import demo_organization_seed

    organization, key, _ = demo_organization_seed(slug="acme-sync", name="Acme Sync")
    return organization, key


@pytest.fixture
def connection(team, demo_org, sandbox_transport) -> KolegaConnection:
    organization, key = demo_org
    created = KolegaConnectionFactory(
        team=team,
        name="Acme",
        base_url=SANDBOX_BASE_URL,
        api_key=key,
        organization_id=str(organization.id),
    )
    return KolegaConnection.objects.get(pk=created.pk)


@pytest.fixture
def upstream(demo_org, sandbox_wsgi) -> Iterator[KolegaClient]:
    """A client of the same organization for the tests' own questions to Kolega."""
    with KolegaClient(
        base_url=SANDBOX_BASE_URL, api_key=demo_org[1], transport=sandbox_wsgi
    ) as client:
        yield client
