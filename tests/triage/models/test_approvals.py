"""Both approval workflows are one state machine (`triage.services.four_eyes`) over rows of one
abstract model, `ApprovalRequest`."""

import pytest

from triage.models import DismissalRequest, FixApproval
from triage.models.approvals import ApprovalRequest
from triage.services import four_eyes


def test_fix_approvals_and_dismissal_requests_are_the_approval_requests():
    assert set(ApprovalRequest.__subclasses__()) == {FixApproval, DismissalRequest}


@pytest.mark.parametrize("model", [FixApproval, DismissalRequest])
def test_each_workflow_has_the_states_the_two_person_rule_moves_between(model):
    states = {four_eyes.PENDING, four_eyes.APPROVED, four_eyes.REJECTED}
    assert states <= set(model.Status.values)
    assert model._meta.get_field("status").default == four_eyes.PENDING
