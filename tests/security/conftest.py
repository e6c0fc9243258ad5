import pytest

from tests.security.urlmap import VictimWorld
from triage.models import Role


@pytest.fixture
def victim_world(team, member, sandbox_transport):
    """Real objects of the ``team`` fixture (the victim) behind every URL kwarg.

    Kolega calls a page makes (quota meters) go to the in-process sandbox, which refuses the
    factory's key: pages must cope, and nothing leaves the process.
    """
    return VictimWorld(team=team, owner=member(Role.ADMIN, username="victim-admin"))
