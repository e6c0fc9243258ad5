"""The approval card names the diff by what happened to it: approved only once it is."""

import re

import pytest

from tests.factories import FixFactory, RepositoryFactory
from tests.pages import team_url
from triage.models import FixApproval, Role
from triage.services.approvals import approval_decide, approval_request

pytestmark = pytest.mark.django_db


def _caption(page: str) -> str:
    found = re.search(r'<dt id="approval-diff-caption">([^<]*)</dt>', page)
    assert found, "the approval card names the diff it is about"
    return found.group(1)


@pytest.fixture
def fix(team):
    return FixFactory(repository=RepositoryFactory(team=team, name="app"))


def test_a_diff_waiting_for_approval_is_not_called_approved(fix, member, client_as):
    approval_request(fix=fix, actor=member(Role.TRIAGER))
    page = client_as(member(Role.VIEWER)).get(team_url("fixes-detail", fix.team, fix_id=fix.pk))
    body = page.content.decode()
    assert "Waiting for approval" in body
    assert "Diff approved" not in body
    assert _caption(body) == "Diff to approve"
    assert fix.diff_sha256[:12] in body


@pytest.mark.parametrize(
    ("approve", "caption"), [(True, "Diff approved"), (False, "Diff rejected")]
)
def test_the_caption_follows_the_decision(fix, member, client_as, monkeypatch, approve, caption):
    from triage import tasks

    monkeypatch.setattr(tasks.open_pull_requests, "delay", lambda *a: None)
    approval = approval_request(fix=fix, actor=member(Role.TRIAGER))
    approval_decide(approval=approval, actor=member(Role.APPROVER), approve=approve)
    approval.refresh_from_db()
    assert approval.status == (
        FixApproval.Status.APPROVED if approve else FixApproval.Status.REJECTED
    )
    body = (
        client_as(member(Role.VIEWER))
        .get(team_url("fixes-detail", fix.team, fix_id=fix.pk))
        .content.decode()
    )
    assert _caption(body) == caption


def test_a_voided_request_is_not_called_approved(fix, member, client_as):
    approval = approval_request(fix=fix, actor=member(Role.TRIAGER))
    FixApproval.objects.filter(pk=approval.pk).update(status=FixApproval.Status.VOIDED)
    body = (
        client_as(member(Role.VIEWER))
        .get(team_url("fixes-detail", fix.team, fix_id=fix.pk))
        .content.decode()
    )
    assert "Diff approved" not in body
    assert _caption(body) == "Diff of this request"
