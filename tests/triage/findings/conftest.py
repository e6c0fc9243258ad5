import pytest

from tests.connections import connect
from triage.kolega import KolegaClient
from triage.models import KolegaConnection
from triage.sync import sync_connection_full


@pytest.fixture
def connection(team, admin, demo_org, sandbox_transport) -> KolegaConnection:
    """The team's connection to ``demo_org``, made by its admin through the settings page."""
    return connect(team=team, admin=admin, api_key=demo_org[1])


@pytest.fixture
def synced(connection) -> KolegaConnection:
    run = sync_connection_full(connection=connection)
    assert run.status == "succeeded", run.error
    return connection


@pytest.fixture
def sleeps() -> list[float]:
    """The waits of the clients ``client_factory`` made, recorded instead of slept."""
    return []


@pytest.fixture
def client_factory(sandbox_wsgi, sleeps):
    """Clients like the status job's own, on the sandbox, whose waits are recorded in
    ``sleeps`` instead of slept; ``client_factory.clients`` lists the clients it made."""
    clients = []

    def make(kolega_connection):
        client = KolegaClient(
            base_url=kolega_connection.base_url,
            api_key=kolega_connection.api_key.reveal(),
            transport=sandbox_wsgi,
            sleep=sleeps.append,
        )
        clients.append(client)
        return client

    make.clients = clients
    return make


class OrganizationFaults:
    """The faults the sandbox injects into one organization's answers, set and cleared."""

    def __init__(self, organization):
        self.organization = organization

    def set(self, **config) -> None:
        from sandbox.services.faults import fault_config_set

        fault_config_set(organization=self.organization, **config)

    def clear(self) -> None:
        from sandbox.services.faults import fault_config_clear

        fault_config_clear(organization=self.organization)


@pytest.fixture
def demo_faults(demo_org) -> OrganizationFaults:
    """The faults of ``demo_org``, none until set."""
    return OrganizationFaults(demo_org[0])
