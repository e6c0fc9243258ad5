import pytest

from tests.factories import MembershipFactory, UserFactory
from tests.triage.findings.conftest import (  # noqa: F401  (the sandbox-backed fixtures)
    admin,
    connection,
    demo_org,
    synced,
    upstream,
)
from triage.kolega import KolegaClient
from triage.models import Role, TeamApprovalPolicy


@pytest.fixture
def triager(team):
    return MembershipFactory(team=team, role=Role.TRIAGER, user=UserFactory(username="tess")).user


@pytest.fixture
def approver(team):
    return MembershipFactory(team=team, role=Role.APPROVER, user=UserFactory(username="abe")).user


@pytest.fixture
def second_approver(team):
    return MembershipFactory(team=team, role=Role.APPROVER, user=UserFactory(username="bo")).user


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
