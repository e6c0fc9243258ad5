"""The fix page offers what the services allow: both ask the same rule functions."""

import pytest

from triage.models import FixApproval, Membership
from triage.services.approvals import approval_decide, approval_request, fix_actions
from triage.services.errors import ServiceError

pytestmark = pytest.mark.django_db


def _actions(fix, user):
    approval = FixApproval.objects.filter(fix=fix).order_by("-created_at").first()
    membership = Membership.objects.filter(team=fix.team, user=user).first()
    return fix_actions(fix=fix, approval=approval, opening=None, actor=user, membership=membership)


def test_what_the_page_offers_is_what_the_services_accept(
    completed_fix, triager, approver, monkeypatch
):
    from triage import tasks

    monkeypatch.setattr(tasks.open_pull_requests, "delay", lambda *args: None)
    assert _actions(completed_fix, triager).request_approval
    assert not _actions(completed_fix, triager).open_pull_requests  # nothing approved yet

    approval = approval_request(fix=completed_fix, actor=triager)

    # Asked once: neither the page nor the service lets a second request through.
    assert not _actions(completed_fix, triager).request_approval
    with pytest.raises(ServiceError, match="already has an approval request"):
        approval_request(fix=completed_fix, actor=triager)
    # The triager who asked may not decide; the approver may.
    assert not _actions(completed_fix, triager).decide
    with pytest.raises(ServiceError, match="Approver role"):
        approval_decide(approval=approval, actor=triager, approve=True)
    assert _actions(completed_fix, approver).decide

    approval_decide(approval=approval, actor=approver, approve=True)

    assert not _actions(completed_fix, approver).decide
    # Approved, and an opening was asked for by the approval itself: nothing more to offer.
    assert not _actions(completed_fix, triager).request_approval
