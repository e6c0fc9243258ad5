import pytest

from tests.triage.findings.conftest import connection, synced  # noqa: F401  (shared fixtures)
from triage.kolega import KolegaClient
from triage.models import Role, TeamApprovalPolicy


@pytest.fixture
def second_approver(member):
    return member(Role.APPROVER, username="bo")


@pytest.fixture
def dismissals_need_approval(team):
    return TeamApprovalPolicy.objects.create(team=team, dismissals_require_approval=True)


@pytest.fixture
def client_factory(sandbox_wsgi):
    """Clients like the status job's own, on the sandbox, whose waits are not slept."""

    def make(kolega_connection):
        return KolegaClient(
            base_url=kolega_connection.base_url,
            api_key=kolega_connection.api_key.reveal(),
            transport=sandbox_wsgi,
            sleep=lambda seconds: None,
        )

    return make
