"""Ten people (or retried tasks) opening pull requests for one approved fix at the same moment:
exactly one POST reaches the sandbox."""

import pytest
from django.db import connection as db_connection

from tests.concurrency import at_once
from tests.triage.kolega.transports import RecordingTransport
from triage.clients import override_transport
from triage.models import PullRequest, PullRequestOpening
from triage.services.approvals import (
    approval_decide,
    approval_request,
    pull_request_opening_send,
    pull_requests_open,
)

pytestmark = pytest.mark.django_db(transaction=True)

CALLERS = 10


def test_ten_concurrent_opens_make_exactly_one_post(
    completed_fix, triager, approver, sandbox_wsgi, monkeypatch, pull_requests_open_on_approval
):
    from sandbox.models import PullRequest as SandboxPullRequest
    from triage import tasks

    if db_connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    queued: list[int] = []
    monkeypatch.setattr(tasks.open_pull_requests, "delay", queued.append)
    approval = approval_request(fix=completed_fix, actor=triager)
    approval_decide(approval=approval, actor=approver, approve=True)
    assert len(queued) == 1  # the approval itself asked for the opening once
    PullRequestOpening.objects.all().delete()
    queued.clear()

    recording = RecordingTransport(sandbox_wsgi)

    def click_and_run_the_task() -> str:
        opening = pull_requests_open(fix=completed_fix, actor=triager)
        return pull_request_opening_send(opening_id=opening.pk).status

    with override_transport(recording):
        outcomes = at_once(click_and_run_the_task, callers=CALLERS)

    posts = [
        r
        for r in recording.requests
        if r.method == "POST" and r.url.path.endswith("/pull-requests")
    ]
    assert len(posts) == 1
    assert SandboxPullRequest.objects.filter(fix_id=completed_fix.upstream_id).count() == 1
    assert PullRequestOpening.objects.filter(fix=completed_fix).count() == 1
    assert PullRequestOpening.objects.get(fix=completed_fix).status == "opened"
    assert len(queued) == 1
    assert PullRequest.objects.filter(fix=completed_fix).count() == 1
    # Callers that came while it was being sent saw it sending; none sent a second time.
    assert set(outcomes) <= {"opened", "sending"}
