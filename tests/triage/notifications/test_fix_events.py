"""A fix ready for review, and its approval requested and decided: told once each, on every
kind of channel."""

import pytest

from tests.triage.fixes.conftest import (  # noqa: F401  (shared fixtures)
    connection,
    open_findings,
    start_fix,
)
from tests.triage.notifications.conftest import (
    deliver_pending,
    delivered_everywhere,
    receiver_bodies,
    told_once_everywhere,
)
from triage.models import EventKind, Notification, TeamApprovalPolicy
from triage.services.approvals import approval_decide, approval_request
from triage.services.errors import ServiceError
from triage.sync import sync_connection_full

pytestmark = pytest.mark.django_db


@pytest.fixture
def fix(start_fix):  # noqa: F811
    """A completed fix with its diff: ready for an approval request."""
    return start_fix()


@pytest.fixture
def no_opening(monkeypatch):
    from triage import tasks

    monkeypatch.setattr(tasks.open_pull_requests, "delay", lambda *args: None)


def _portal_mail(smtp_server, count: int) -> list:
    """The channel's messages, not the approvers' own request email."""
    return [m for m in smtp_server.wait_for(count) if m["Subject"].startswith("[Blue Team]")]


def test_an_approval_request_is_told_once_on_every_kind_of_channel(
    fix, triager, every_channel, http_receiver, smtp_server, no_opening
):
    Notification.objects.all().delete()
    approval = approval_request(fix=fix, actor=triager, note="Please look today")
    with pytest.raises(ServiceError):
        approval_request(fix=fix, actor=triager)

    title = f"Approval requested: {fix.title}"
    key = f"fix-approval:{approval.pk}:requested"
    webhook, slack, teams = told_once_everywhere(http_receiver, "approval.requested", key, title)
    assert webhook["text"].startswith(f"tess asks to open pull requests for “{fix.title}”;")
    assert "Please look today" in webhook["text"]
    assert webhook["data"]["fix"]["pk"] == fix.pk
    assert webhook["url"].endswith("/t/blue/approvals/")
    assert slack["blocks"][0]["text"]["text"] == title[:150]
    card = teams["attachments"][0]["content"]
    assert {"title": "Requested by", "value": "tess"} in card["body"][2]["facts"]
    mail = _portal_mail(smtp_server, 2)
    assert [m["Subject"] for m in mail] == [f"[Blue Team] {title}"]


def test_a_decision_is_told_when_it_settles_the_request(
    team,
    fix,
    triager,
    approver,
    member,
    every_channel,
    http_receiver,
    smtp_server,
    no_opening,
):
    from triage.models import Role

    TeamApprovalPolicy.objects.create(team=team, required_approvals=2)
    second = member(Role.APPROVER, username="bo")
    approval = approval_request(fix=fix, actor=triager)
    Notification.objects.all().delete()

    approval_decide(approval=approval, actor=approver, approve=True, comment="Looks right")
    assert not Notification.objects.exists()  # one of two approvals settles nothing
    approval_decide(approval=approval, actor=second, approve=True, comment="Agreed")

    notification = Notification.objects.get()
    assert notification.event_kind == EventKind.APPROVAL_DECIDED
    bodies = delivered_everywhere(http_receiver)
    webhook, slack, teams = bodies["webhook"], bodies["slack"], bodies["teams"]
    title = f"Fix approved: {fix.title}"
    assert webhook["event"] == "approval.decided"
    assert webhook["title"] == title
    assert webhook["data"]["decision"] == {"by": "bo", "comment": "Agreed"}
    assert "bo approved opening pull requests" in slack["text"]
    card = teams["attachments"][0]["content"]
    assert {"title": "Decided by", "value": "bo"} in card["body"][2]["facts"]
    assert [m["Subject"] for m in _portal_mail(smtp_server, 1)] == [f"[Blue Team] {title}"]


def test_a_rejection_is_told_as_rejected(
    fix, triager, approver, channel_of, http_receiver, no_opening
):
    channel_of("webhook", events=[EventKind.APPROVAL_DECIDED])
    approval = approval_request(fix=fix, actor=triager)
    assert not Notification.objects.exists()  # the rule wants decisions only

    approval_decide(approval=approval, actor=approver, approve=False, comment="Wrong file")

    assert deliver_pending() == ["delivered"]
    (body,) = receiver_bodies(http_receiver)
    assert body["title"] == f"Fix rejected: {fix.title}"
    assert body["text"].endswith("“Wrong file”")


def test_a_fix_ready_for_review_is_told_once_on_every_kind_of_channel(
    start_fix,  # noqa: F811
    connection,  # noqa: F811
    every_channel,
    http_receiver,
    smtp_server,
):
    # The connection's first sync (in the fixture) found finished fixes: history, not news.
    assert not Notification.objects.filter(event_kind=EventKind.FIX_READY).exists()
    Notification.objects.all().delete()

    ready = start_fix()
    sync_connection_full(connection=connection)  # sees the same diff again: nothing new

    title = f"Fix ready for review: {ready.title}"
    key = f"fix:{ready.pk}:ready:{ready.diff_sha256}"
    webhook, slack, teams = told_once_everywhere(http_receiver, "fix.ready", key, title)
    assert webhook["text"] == (
        f"A fix of 2 findings in {ready.repository.name} has a diff to review."
    )
    assert webhook["url"].endswith(f"/t/blue/fixes/{ready.pk}/")
    assert slack["text"] == webhook["text"]
    card = teams["attachments"][0]["content"]
    assert {"title": "Findings", "value": "2"} in card["body"][2]["facts"]
    mail = smtp_server.wait_for(1)
    assert [m["Subject"] for m in mail] == [f"[Blue Team] {title}"]
    assert f"/t/blue/fixes/{ready.pk}/" in mail[0].get_body().get_content()
