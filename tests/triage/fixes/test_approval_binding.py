"""An approval is bound to what is opened: a diff changed in Kolega after approval (a refine
through Kolega's own API, not the portal) is never opened, whether a sync saw the change or
only the check just before the POST does."""

import pytest
from django.urls import reverse

from triage.models import AuditEvent, FixApproval, PullRequestOpening
from triage.services.approvals import (
    approval_decide,
    approval_request,
    pull_request_opening_send,
    pull_requests_open,
)
from triage.services.errors import ServiceError
from triage.sync import sync_connection_full

# These tests are about opening pull requests: the team's policy opens them on approval.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pull_requests_open_on_approval")]


@pytest.fixture
def approved(completed_fix, triager, approver, queued, django_capture_on_commit_callbacks):
    """The completed fix approved for its current diff, its opening queued but not sent."""
    with django_capture_on_commit_callbacks(execute=True):
        approval = approval_request(
            fix=completed_fix, actor=triager, pr_title="Fix it", pr_body="Parameterized."
        )
        approval = approval_decide(approval=approval, actor=approver, approve=True)
    assert approval.status == FixApproval.Status.APPROVED and len(queued) == 1
    return approval


def _refine_in_kolega(upstream, fix, *, clock=None):
    """Refine through the Kolega API of the sandbox with the organization's key, as its own
    UI or CLI would; with ``clock``, let the sandbox finish the new run."""
    upstream.refine_fix(
        repository_id=fix.repository.upstream_id,
        fix_id=fix.upstream_id,
        instructions="Also rename the helper",
    )
    if clock is not None:
        clock.advance(600)
        finished = upstream.get_fix(
            repository_id=fix.repository.upstream_id, fix_id=fix.upstream_id
        )
        assert finished.status == "completed"


def _opened_in_kolega() -> int:
    from sandbox.models import PullRequest as SandboxPullRequest

    return SandboxPullRequest.objects.count()


def test_a_sync_that_sees_the_diff_change_voids_the_approval_and_nothing_opens(
    approved, completed_fix, connection, triager, upstream, sandbox_clock, queued
):
    _refine_in_kolega(upstream, completed_fix, clock=sandbox_clock)
    run = sync_connection_full(connection=connection)
    assert run.status == "succeeded", run.error
    completed_fix.refresh_from_db()
    assert completed_fix.diff_sha256 != approved.diff_sha256
    approved.refresh_from_db()
    assert approved.status == FixApproval.Status.VOIDED
    assert AuditEvent.objects.filter(
        action="approval.void", target_id=str(completed_fix.pk), details__approval=approved.pk
    ).exists()
    # The opening queued before the sync is still refused when its task runs.
    opening = pull_request_opening_send(opening_id=queued[0])
    assert opening.status == PullRequestOpening.Status.FAILED
    assert "not the approved one" in opening.error_message
    with pytest.raises(ServiceError, match="approved request"):
        pull_requests_open(fix=completed_fix, actor=triager)
    assert _opened_in_kolega() == 0


def test_with_no_sync_the_check_before_the_post_catches_the_changed_diff(
    approved, completed_fix, upstream, sandbox_clock, queued, sandbox_wsgi
):
    from tests.triage.kolega.transports import AnswerLosingTransport
    from triage.clients import override_transport

    _refine_in_kolega(upstream, completed_fix, clock=sandbox_clock)
    completed_fix.refresh_from_db()
    assert completed_fix.diff_sha256 == approved.diff_sha256  # the mirror has not seen it
    watching = AnswerLosingTransport(sandbox_wsgi, losses=0, matches=lambda r: False)
    with override_transport(watching):
        opening = pull_request_opening_send(opening_id=queued[0])
    assert opening.status == PullRequestOpening.Status.FAILED
    assert "not the approved one" in opening.error_message
    assert "approval no longer counts" in opening.error_message
    assert not [r for r in watching.requests if r.method == "POST"]
    assert _opened_in_kolega() == 0
    approved.refresh_from_db()
    assert approved.status == FixApproval.Status.VOIDED
    completed_fix.refresh_from_db()
    assert completed_fix.diff_sha256 != approved.diff_sha256  # the new diff, to review


def test_a_refine_still_running_in_kolega_refuses_the_opening(
    approved, completed_fix, triager, upstream, queued, django_capture_on_commit_callbacks
):
    _refine_in_kolega(upstream, completed_fix)
    opening = pull_request_opening_send(opening_id=queued[0])
    assert opening.status == PullRequestOpening.Status.FAILED
    assert "newer diff" in opening.error_message and "Nothing was sent" in opening.error_message
    assert _opened_in_kolega() == 0
    # The mirror now knows the fix runs again: retrying is refused too.
    with pytest.raises(ServiceError, match="completed fix"):
        pull_requests_open(fix=completed_fix, actor=triager)


def test_opening_is_refused_while_a_newer_diff_is_pending_in_the_mirror(
    approved, completed_fix, triager, queued
):
    from datetime import timedelta

    PullRequestOpening.objects.all().delete()
    type(completed_fix).objects.filter(pk=completed_fix.pk).update(
        completed_at=completed_fix.completed_at + timedelta(minutes=5)
    )
    completed_fix.refresh_from_db()
    assert completed_fix.needs_diff
    with pytest.raises(ServiceError, match="newer diff"):
        pull_requests_open(fix=completed_fix, actor=triager)


def test_the_approver_sees_the_pull_request_title_and_body_before_deciding(
    completed_fix, triager, approver, client_as
):
    approval_request(
        fix=completed_fix,
        actor=triager,
        pr_title="Parameterize the user lookup",
        pr_body="Closes the SQL injection.\nAlso\u202e adds a test.",
        pr_branch="security/sqli",
    )
    page = (
        client_as(approver)
        .get(
            reverse(
                "fixes-detail",
                kwargs={"team_slug": completed_fix.team.slug, "fix_id": completed_fix.pk},
            )
        )
        .content.decode()
    )
    assert 'id="decide-form"' in page
    assert "Parameterize the user lookup" in page
    assert "Closes the SQL injection.<br>Also" in page
    assert "\u202e" not in page and 'title="U+202E RIGHT-TO-LEFT OVERRIDE"' in page
    assert "security/sqli" in page
    assert page.index("Parameterize the user lookup") < page.index('id="decide-form"')
