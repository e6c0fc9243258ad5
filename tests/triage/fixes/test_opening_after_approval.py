"""Approving opens pull requests only when the team's policy says so. By default the fix stays
approved and whoever may open them presses "Open pull requests"; a Kolega refusal then leaves
the approval as it was and the fix page says why."""

import pytest
from django.urls import reverse

from sandbox.models import PullRequest as SandboxPullRequest
from triage.models import AuditEvent, FixApproval, PullRequest, PullRequestOpening, Role
from triage.services.approvals import (
    approval_decide,
    approval_request,
    pull_request_opening_send,
)

pytestmark = pytest.mark.django_db


def _decide(client, approval):
    return client.post(
        reverse("approvals-decide", args=[approval.team.slug, approval.pk]),
        {"decision": "approve", "comment": "ok"},
        follow=True,
    )


def _fix_page(client, fix):
    return client.get(reverse("fixes-detail", args=[fix.team.slug, fix.pk])).content.decode()


def test_by_default_approving_leaves_the_fix_approved_with_an_open_button(
    completed_fix, triager, approver, client_as, queued, django_capture_on_commit_callbacks
):
    approval = approval_request(fix=completed_fix, actor=triager, pr_title="Fix it")
    with django_capture_on_commit_callbacks(execute=True):
        response = _decide(client_as(approver), approval)

    approval.refresh_from_db()
    assert approval.status == FixApproval.Status.APPROVED
    assert queued == []
    assert not PullRequestOpening.objects.exists()
    assert not AuditEvent.objects.filter(action="pull_requests.open_requested").exists()
    assert "Open the pull requests when you are ready" in response.content.decode()
    for person in (triager, approver):
        assert ">Open pull requests</button>" in _fix_page(client_as(person), completed_fix)

    with django_capture_on_commit_callbacks(execute=True):
        client_as(triager).post(
            reverse("fixes-detail", args=[completed_fix.team.slug, completed_fix.pk]),
            {"action": "open_pull_requests"},
        )
    assert len(queued) == 1
    opened = pull_request_opening_send(opening_id=queued[0])
    assert opened.status == PullRequestOpening.Status.OPENED
    assert PullRequest.objects.filter(fix=completed_fix).count() == 1
    assert SandboxPullRequest.objects.count() == 1
    assert ">Open pull requests</button>" not in _fix_page(client_as(triager), completed_fix)


def test_a_viewer_gets_no_open_button_and_cannot_open(
    completed_fix, triager, approver, member, client_as, queued, django_capture_on_commit_callbacks
):
    approval = approval_request(fix=completed_fix, actor=triager)
    approval_decide(approval=approval, actor=approver, approve=True)
    viewer = client_as(member(Role.VIEWER))

    assert ">Open pull requests</button>" not in _fix_page(viewer, completed_fix)
    with django_capture_on_commit_callbacks(execute=True):
        response = viewer.post(
            reverse("fixes-detail", args=[completed_fix.team.slug, completed_fix.pk]),
            {"action": "open_pull_requests"},
        )
    assert response.status_code == 403
    assert queued == []


def test_with_the_policy_on_approving_opens_them_at_once(
    completed_fix,
    triager,
    approver,
    client_as,
    queued,
    django_capture_on_commit_callbacks,
    pull_requests_open_on_approval,
):
    approval = approval_request(fix=completed_fix, actor=triager)
    with django_capture_on_commit_callbacks(execute=True):
        response = _decide(client_as(approver), approval)

    assert "The pull requests are being opened" in response.content.decode()
    assert len(queued) == 1
    assert pull_request_opening_send(opening_id=queued[0]).status == "opened"


def test_kolega_refusing_the_opening_keeps_the_approval_and_says_why(
    completed_fix,
    triager,
    approver,
    client_as,
    queued,
    refined_before_the_post,
    django_capture_on_commit_callbacks,
):
    approval = approval_request(fix=completed_fix, actor=triager)
    approval_decide(approval=approval, actor=approver, approve=True)
    with django_capture_on_commit_callbacks(execute=True):
        client_as(triager).post(
            reverse("fixes-detail", args=[completed_fix.team.slug, completed_fix.pk]),
            {"action": "open_pull_requests"},
        )

    with refined_before_the_post(completed_fix):
        failed = pull_request_opening_send(opening_id=queued[0])

    assert failed.status == PullRequestOpening.Status.FAILED
    approval.refresh_from_db()
    assert approval.status == FixApproval.Status.APPROVED
    page = _fix_page(client_as(triager), completed_fix)
    assert failed.error_message in page.replace("&#x27;", "'").replace("&quot;", '"')
    assert SandboxPullRequest.objects.count() == 0


def test_the_approver_is_told_before_deciding_whether_approving_opens_them(
    completed_fix, triager, approver, client_as, team
):
    from triage.models import TeamApprovalPolicy

    approval_request(fix=completed_fix, actor=triager)
    client = client_as(approver)
    assert "Approving does not open pull requests" in _fix_page(client, completed_fix)
    TeamApprovalPolicy.objects.create(team=team, open_pull_requests_on_approval=True)
    assert "opens the pull requests at once" in _fix_page(client, completed_fix)
