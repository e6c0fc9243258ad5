"""The fix/approval state machine against the sandbox: every transition allowed or refused."""

import pytest

from triage.models import (
    AuditEvent,
    FixApproval,
    FixDiffVersion,
    PullRequest,
    PullRequestOpening,
    Role,
    TeamApprovalPolicy,
)
from triage.services.approvals import (
    approval_decide,
    approval_policy_set,
    approval_request,
    pull_request_opening_send,
    pull_requests_open,
)
from triage.services.errors import RoleRequired, ServiceError
from triage.services.fixes import fix_cancel, fix_refine, fix_title_proposed

from .conftest import run_to_completion

# These tests are about opening pull requests: the team's policy opens them on approval.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pull_requests_open_on_approval")]


def _approval_refused(approval, actor, *, match: str) -> FixApproval:
    """Approving as ``actor`` is refused with an error matching ``match``; the request, read
    back."""
    with pytest.raises(ServiceError, match=match):
        approval_decide(approval=approval, actor=actor, approve=True)
    approval.refresh_from_db()
    return approval


def _approve(fix, triager, approver, capture, **kwargs):
    with capture(execute=True):
        approval = approval_request(fix=fix, actor=triager, note="Looks right", **kwargs)
        return approval_decide(approval=approval, actor=approver, approve=True, comment="ok")


def test_title_is_proposed_from_the_findings(open_findings):
    one = fix_title_proposed(findings=open_findings[:1])
    assert open_findings[0].file_path in one
    assert fix_title_proposed(findings=open_findings).startswith(f"Fix {len(open_findings)}")


def test_starting_a_fix_mirrors_it_audits_and_queues_tracking(
    start_fix, django_capture_on_commit_callbacks, monkeypatch
):
    from triage import tasks

    queued = []
    monkeypatch.setattr(tasks.track_fix, "delay", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        fix = start_fix(complete=False)
    assert fix.status == "pending"
    assert queued == [fix.pk]
    assert AuditEvent.objects.filter(action="fix.create", target_id=str(fix.pk)).exists()


def test_starting_a_fix_is_refused_without_prs_quota(start_fix, demo_org):
    from sandbox.models import Fix as SandboxFix
    from sandbox.models import Organization

    organization = demo_org[0]
    used = SandboxFix.objects.filter(organization=organization).count()
    Organization.objects.filter(pk=organization.pk).update(prs_plan=used, prs_topup=0)
    with pytest.raises(ServiceError, match="quota of fixes"):
        start_fix(complete=False)
    assert SandboxFix.objects.filter(organization=organization).count() == used


def test_a_viewer_cannot_start_cancel_or_refine(start_fix, member, open_findings):
    viewer = member(Role.VIEWER)
    fix = start_fix(complete=False)
    with pytest.raises(RoleRequired):
        fix_cancel(fix=fix, actor=viewer)
    with pytest.raises(RoleRequired):
        fix_refine(fix=fix, actor=viewer, instructions="x")


def test_cancel_only_while_pending_or_running(start_fix, triager):
    fix = start_fix(complete=False)
    cancelled = fix_cancel(fix=fix, actor=triager)
    assert cancelled.status == "cancelled"
    with pytest.raises(ServiceError, match="pending or running"):
        fix_cancel(fix=cancelled, actor=triager)


def test_refine_only_a_completed_fix_and_it_keeps_the_diff_version(
    start_fix, triager, sandbox_clock
):
    running = start_fix(complete=False)
    with pytest.raises(ServiceError, match="completed"):
        fix_refine(fix=running, actor=triager, instructions="More")
    fix = run_to_completion(running, sandbox_clock)
    first_sha = fix.diff_sha256
    refined = fix_refine(fix=fix, actor=triager, instructions="Also add a test")
    assert refined.status in ("pending", "running")
    assert FixDiffVersion.objects.filter(fix=fix, sha256=first_sha, number=1).exists()


def test_request_approval_needs_a_completed_fix_and_one_open_request(
    start_fix, triager, sandbox_clock
):
    running = start_fix(complete=False)
    with pytest.raises(ServiceError, match="completed"):
        approval_request(fix=running, actor=triager)
    fix = run_to_completion(running, sandbox_clock)
    approval = approval_request(fix=fix, actor=triager, note="please")
    assert approval.status == FixApproval.Status.PENDING
    assert approval.diff_sha256 == fix.diff_sha256
    with pytest.raises(ServiceError, match="already has"):
        approval_request(fix=fix, actor=triager)


def test_a_viewer_cannot_request_and_a_triager_cannot_decide(completed_fix, triager, member):
    with pytest.raises(RoleRequired):
        approval_request(fix=completed_fix, actor=member(Role.VIEWER))
    approval = approval_request(fix=completed_fix, actor=triager)
    with pytest.raises(RoleRequired):
        approval_decide(approval=approval, actor=member(Role.TRIAGER), approve=True)


def test_four_eyes_the_requester_cannot_approve_their_own_request(completed_fix, member):
    approver = member(Role.APPROVER)
    approval = approval_request(fix=completed_fix, actor=approver)
    refused = _approval_refused(approval, approver, match="second person")
    assert refused.status == FixApproval.Status.PENDING


def test_an_admin_approves_their_own_request_only_when_the_team_allows(
    completed_fix, member, team, queued, django_capture_on_commit_callbacks
):
    admin = member(Role.ADMIN)
    approval = approval_request(fix=completed_fix, actor=admin)
    with pytest.raises(ServiceError, match="second person"):
        approval_decide(approval=approval, actor=admin, approve=True)
    approval_policy_set(team=team, actor=admin, required_approvals=1, admins_may_self_approve=True)
    with django_capture_on_commit_callbacks(execute=True):
        decided = approval_decide(approval=approval, actor=admin, approve=True)
    assert decided.status == FixApproval.Status.APPROVED
    # Even when admins may, an approver who is not an admin still may not.
    assert TeamApprovalPolicy.objects.get(team=team).admins_may_self_approve


def test_rejecting_ends_the_request_and_a_decision_is_final(
    completed_fix, triager, approver, member
):
    approval = approval_request(fix=completed_fix, actor=triager)
    rejected = approval_decide(approval=approval, actor=approver, approve=False, comment="no")
    assert rejected.status == FixApproval.Status.REJECTED
    with pytest.raises(ServiceError, match="already rejected"):
        approval_decide(approval=approval, actor=member(Role.APPROVER), approve=True)
    with pytest.raises(ServiceError, match="approved request"):
        pull_requests_open(fix=completed_fix, actor=triager)
    # A new request may follow a rejection.
    assert approval_request(fix=completed_fix, actor=triager).status == "pending"


def test_two_approvals_when_the_team_requires_them(
    completed_fix, triager, approver, member, team, queued, django_capture_on_commit_callbacks
):
    approval_policy_set(
        team=team, actor=member(Role.ADMIN), required_approvals=2, admins_may_self_approve=False
    )
    approval = approval_request(fix=completed_fix, actor=triager)
    assert approval_decide(approval=approval, actor=approver, approve=True).status == "pending"
    with pytest.raises(ServiceError, match="already decided"):
        approval_decide(approval=approval, actor=approver, approve=True)
    assert queued == []
    with django_capture_on_commit_callbacks(execute=True):
        second = approval_decide(approval=approval, actor=member(Role.APPROVER), approve=True)
    assert second.status == FixApproval.Status.APPROVED
    assert len(queued) == 1


def test_diff_hash_binding_a_refine_after_approval_refuses_opening(
    completed_fix, triager, approver, queued, django_capture_on_commit_callbacks, sandbox_clock
):
    approval = _approve(completed_fix, triager, approver, django_capture_on_commit_callbacks)
    assert approval.status == FixApproval.Status.APPROVED
    opening = PullRequestOpening.objects.get(fix=completed_fix)
    PullRequestOpening.objects.filter(pk=opening.pk).delete()  # not sent yet
    refined = fix_refine(fix=completed_fix, actor=triager, instructions="Rename the helper")
    approval.refresh_from_db()
    assert approval.status == FixApproval.Status.VOIDED
    with pytest.raises(ServiceError, match="approved request"):
        pull_requests_open(fix=refined, actor=triager)
    # Completed again with a new diff: the old approval still does not count.
    fix = run_to_completion(refined, sandbox_clock)
    assert fix.diff_sha256 != approval.diff_sha256
    with pytest.raises(ServiceError, match="approved request"):
        pull_requests_open(fix=fix, actor=triager)
    assert FixDiffVersion.objects.filter(fix=fix).count() == 1  # v2 is captured when reviewed


def test_a_diff_changed_while_pending_voids_the_request_on_decision(
    completed_fix, triager, approver
):
    approval = approval_request(fix=completed_fix, actor=triager)
    type(completed_fix).objects.filter(pk=completed_fix.pk).update(diff_sha256="0" * 64)
    refused = _approval_refused(approval, approver, match="diff changed")
    assert refused.status == FixApproval.Status.VOIDED


def test_opening_sends_once_and_mirrors_the_pull_requests(
    completed_fix, triager, approver, queued, django_capture_on_commit_callbacks
):
    _approve(
        completed_fix,
        triager,
        approver,
        django_capture_on_commit_callbacks,
        pr_title="Fix SQL injection",
        pr_branch="security/fix-sqli",
    )
    assert len(queued) == 1
    opening = pull_request_opening_send(opening_id=queued[0])
    assert opening.status == PullRequestOpening.Status.OPENED
    assert opening.pull_requests[0]["branch_name"] == "security/fix-sqli"
    assert PullRequest.objects.filter(fix=completed_fix).count() == 1
    # A retried task and a second click send nothing more.
    assert pull_request_opening_send(opening_id=opening.pk).status == "opened"
    with django_capture_on_commit_callbacks(execute=True):
        again = pull_requests_open(fix=completed_fix, actor=triager)
    assert again.pk == opening.pk and len(queued) == 1
    from sandbox.models import PullRequest as SandboxPullRequest

    assert SandboxPullRequest.objects.count() == 1


def _lose_pull_request_answers(sandbox_wsgi, *, reaches_server):
    from tests.triage.kolega.transports import AnswerLosingTransport
    from triage.clients import override_transport

    losing = AnswerLosingTransport(
        sandbox_wsgi,
        losses=1,
        reaches_server=reaches_server,
        matches=lambda r: r.method == "POST" and r.url.path.endswith("/pull-requests"),
    )
    return losing, override_transport(losing)


def test_a_lost_answer_after_kolega_opened_is_reconciled_without_a_second_post(
    completed_fix, triager, approver, queued, django_capture_on_commit_callbacks, sandbox_wsgi
):
    from sandbox.models import PullRequest as SandboxPullRequest

    _approve(completed_fix, triager, approver, django_capture_on_commit_callbacks)
    losing, routed = _lose_pull_request_answers(sandbox_wsgi, reaches_server=True)
    with routed:
        unknown = pull_request_opening_send(opening_id=queued[0])
        assert unknown.status == PullRequestOpening.Status.UNKNOWN
        # The retried task reconciles by reading the fix: opened, and nothing re-sent.
        reconciled = pull_request_opening_send(opening_id=queued[0])
    assert reconciled.status == PullRequestOpening.Status.OPENED
    posts = [r for r in losing.requests if r.method == "POST"]
    assert len(posts) == 1
    assert SandboxPullRequest.objects.count() == 1
    assert PullRequest.objects.filter(fix=completed_fix).count() == 1


def test_a_request_lost_before_kolega_is_failed_after_reconciling_and_retried_safely(
    completed_fix, triager, approver, queued, django_capture_on_commit_callbacks, sandbox_wsgi
):
    from sandbox.models import PullRequest as SandboxPullRequest

    _approve(completed_fix, triager, approver, django_capture_on_commit_callbacks)
    _, routed = _lose_pull_request_answers(sandbox_wsgi, reaches_server=False)
    with routed:
        assert pull_request_opening_send(opening_id=queued[0]).status == "unknown"
        failed = pull_request_opening_send(opening_id=queued[0])
    assert failed.status == PullRequestOpening.Status.FAILED
    assert "retrying is safe" in failed.error_message
    assert SandboxPullRequest.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        retried = pull_requests_open(fix=completed_fix, actor=triager)
    assert retried.status == PullRequestOpening.Status.PENDING and len(queued) == 2
    assert pull_request_opening_send(opening_id=retried.pk).status == "opened"
    assert SandboxPullRequest.objects.count() == 1


def test_kolega_refusing_marks_the_opening_failed_with_the_reason(
    completed_fix,
    triager,
    approver,
    queued,
    django_capture_on_commit_callbacks,
    refined_before_the_post,
):
    from sandbox.models import PullRequest as SandboxPullRequest

    _approve(completed_fix, triager, approver, django_capture_on_commit_callbacks)

    with refined_before_the_post(completed_fix):
        failed = pull_request_opening_send(opening_id=queued[0])
    assert failed.status == PullRequestOpening.Status.FAILED
    assert failed.error_message.startswith("Kolega refused")
    assert SandboxPullRequest.objects.count() == 0


def test_an_opening_left_sending_by_a_dead_worker_is_reconciled_not_resent(
    completed_fix, triager, approver, queued, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from sandbox.models import PullRequest as SandboxPullRequest

    _approve(completed_fix, triager, approver, django_capture_on_commit_callbacks)
    # The worker sent the POST (Kolega opened the PR) and died before recording the answer.
    opening = pull_request_opening_send(opening_id=queued[0])
    PullRequestOpening.objects.filter(pk=opening.pk).update(
        status="sending", sent_at=timezone.now() - timedelta(minutes=10)
    )
    with django_capture_on_commit_callbacks(execute=True):
        again = pull_requests_open(fix=completed_fix, actor=triager)
    assert again.pk == opening.pk and len(queued) == 2
    assert pull_request_opening_send(opening_id=opening.pk).status == "opened"
    assert SandboxPullRequest.objects.count() == 1


def test_refine_keeps_every_completed_diff_and_compares_them(
    completed_fix, triager, sandbox_clock, client_as
):
    from django.urls import reverse

    first = completed_fix.diff
    client = client_as(triager)
    page = reverse(
        "fixes-detail", kwargs={"team_slug": completed_fix.team.slug, "fix_id": completed_fix.pk}
    )
    response = client.post(page, {"action": "refine", "instructions": "Also log the change"})
    assert response.status_code == 302
    completed_fix.refresh_from_db()
    assert completed_fix.status in ("pending", "running")
    assert 'hx-trigger="every 2s"' in client.get(page).content.decode()
    fix = run_to_completion(completed_fix, sandbox_clock)
    assert fix.diff != first
    versions = FixDiffVersion.objects.filter(fix=fix)
    assert [(v.number, v.diff) for v in versions] == [(1, first)]
    # Without a choice the comparison is of the two latest versions: 1 and the current 2.
    compare = client.get(
        reverse("fixes-compare", kwargs={"team_slug": fix.team.slug, "fix_id": fix.pk})
    ).content.decode()
    assert '<option value="1" selected>Version 1<' in compare
    assert '<option value="2" selected>Version 2 (current)<' in compare
    assert "diff-add" in compare or "diff-del" in compare
    # The first version is still viewable on the fix page.
    old_page = client.get(page, {"v": versions[0].sha256}).content.decode()
    assert "earlier version" in old_page
