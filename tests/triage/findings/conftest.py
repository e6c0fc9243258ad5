import pytest

from tests.connections import connect
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
