import pytest

from tests.triage.findings.conftest import (  # noqa: F401  (shared fixtures)
    client_factory,
    connection,
    sleeps,
    synced,
)
from triage.models import Role, TeamApprovalPolicy


@pytest.fixture
def second_approver(member):
    return member(Role.APPROVER, username="bo")


@pytest.fixture
def dismissals_need_approval(team):
    return TeamApprovalPolicy.objects.create(team=team, dismissals_require_approval=True)
