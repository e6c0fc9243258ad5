"""The calendar's events: findings past their SLA or falling due within a rule's days (one
summary per team, day and kind, never one per finding), dismissals about to expire and
expired; each told once on every kind of channel however often the hourly task runs."""

import datetime

import pytest
from django.utils import timezone

from tests.factories import DismissalRequestFactory, FindingFactory, RepositoryFactory
from tests.triage.notifications.conftest import CHANNEL_KINDS, told_once_everywhere
from triage.models import (
    DismissalRequest,
    EventKind,
    Notification,
)
from triage.services.dismissals import dismissals_expire
from triage.services.notification_schedule import scheduled_events_record
from triage.tasks import notify_scheduled_events

pytestmark = pytest.mark.django_db

NOW = timezone.now()
TODAY = NOW.date()
# Later on the same (UTC) day as NOW, whatever the time of day the tests run at.
LATER_TODAY = (
    NOW
    + (
        datetime.datetime.combine(TODAY + datetime.timedelta(days=1), datetime.time(), NOW.tzinfo)
        - NOW
    )
    / 2
)


@pytest.fixture
def channels_for(channel_of, smtp_server):
    return lambda *events: {kind: channel_of(kind, events=events) for kind in CHANNEL_KINDS}


def _detected(repository, *, severity: str, days_ago: float, count: int = 1, **values):
    return [
        FindingFactory(
            repository=repository,
            severity=severity,
            first_detected_at=NOW - datetime.timedelta(days=days_ago),
            **values,
        )
        for _ in range(count)
    ]


@pytest.fixture
def repositories(team):
    return RepositoryFactory(team=team, name="api"), RepositoryFactory(team=team, name="web")


@pytest.fixture
def sla_findings(repositories):
    """Critical findings have 7 days and high ones 30 (the default policy): 14 past their
    SLA, 2 falling due within 3 days, and some neither, resolved or info."""
    api, web = repositories
    past = _detected(api, severity="critical", days_ago=9, count=10)
    past += _detected(web, severity="high", days_ago=40, count=4)
    soon = _detected(api, severity="high", days_ago=28)
    soon += _detected(web, severity="critical", days_ago=5)
    _detected(api, severity="high", days_ago=10, count=3)  # due in 20 days
    _detected(api, severity="critical", days_ago=30, status="resolved")
    _detected(web, severity="info", days_ago=400)
    return past, soon


def test_findings_past_their_sla_are_one_summary_a_day_on_every_kind_of_channel(
    sla_findings, channels_for, http_receiver, smtp_server
):
    channels_for(EventKind.SLA_BREACHED)

    assert scheduled_events_record(now=NOW) == 1
    assert scheduled_events_record(now=LATER_TODAY) == 0

    title = "14 findings past their SLA in Blue Team"
    key = f"sla.breached:{TODAY.isoformat()}"
    webhook, slack, teams = told_once_everywhere(http_receiver, "sla.breached", key, title)
    assert webhook["data"]["by_severity"] == {"critical": 10, "high": 4}
    assert len(webhook["data"]["first"]) == 5
    assert webhook["data"]["first"][0]["severity"] == "high"  # due 10 days ago: first
    assert "sort=sla" in webhook["url"] and "status=open" in webhook["url"]
    assert slack["text"].startswith(f"{title}: 10 critical, 4 high. First due: high:")
    card = teams["attachments"][0]["content"]
    assert {"title": "By severity", "value": "10 critical, 4 high"} in card["body"][2]["facts"]
    (mail,) = smtp_server.wait_for(1)
    assert mail["Subject"] == f"[Blue Team] {title}"
    assert "sort=sla" in mail.get_body().get_content()

    # The next day is another day: told again, once.
    assert scheduled_events_record(now=NOW + datetime.timedelta(days=1)) == 1


def test_findings_due_within_the_rules_days_are_one_summary(
    sla_findings, channels_for, http_receiver
):
    channels_for(EventKind.SLA_DUE_SOON)

    assert notify_scheduled_events() == 1  # the beat task, now
    assert notify_scheduled_events() == 0

    title = "2 findings reach their SLA within 3 days in Blue Team"
    key = f"sla.due_soon:{timezone.now().date().isoformat()}:days=3"
    webhook, _, _ = told_once_everywhere(http_receiver, "sla.due_soon", key, title)
    assert webhook["data"]["by_severity"] == {"critical": 1, "high": 1}
    assert webhook["data"]["days"] == 3


def test_nothing_due_tells_nothing(repositories, channels_for):
    channels_for(EventKind.SLA_DUE_SOON, EventKind.SLA_BREACHED)
    _detected(repositories[0], severity="high", days_ago=1)
    assert scheduled_events_record(now=NOW) == 0
    assert not Notification.objects.exists()


def _dismissal(team, user, findings, *, expires_on, status=DismissalRequest.Status.APPLIED):
    request = DismissalRequestFactory(
        team=team, requested_by=user, findings=findings, expires_on=expires_on, status=status
    )
    for finding in findings:
        finding.status = "ignored"
        finding.save(update_fields=["status"])
    return request


def test_a_dismissal_about_to_expire_is_told_once_on_every_kind_of_channel(
    team, triager, repositories, channels_for, http_receiver, smtp_server
):
    channels_for(EventKind.DISMISSAL_EXPIRING)
    findings = _detected(repositories[0], severity="high", days_ago=2, count=2)
    request = _dismissal(team, triager, findings, expires_on=TODAY + datetime.timedelta(days=2))
    _dismissal(team, triager, findings[:1], expires_on=TODAY + datetime.timedelta(days=20))

    assert scheduled_events_record(now=NOW) == 1
    assert scheduled_events_record(now=NOW + datetime.timedelta(days=1)) == 0

    title = f"Dismissal #{request.pk} expires in 2 days"
    key = f"dismissal:{request.pk}:expiring:3d"
    webhook, slack, teams = told_once_everywhere(http_receiver, "dismissal.expiring", key, title)
    assert webhook["url"].endswith(f"/t/blue/approvals/dismissals/{request.pk}/")
    assert "The dismissal of 2 findings expires on" in slack["text"]
    assert "Accepted risk until the migration" in slack["text"]
    card = teams["attachments"][0]["content"]
    assert {"title": "Requested by", "value": "tess"} in card["body"][2]["facts"]
    (mail,) = smtp_server.wait_for(1)
    assert mail["Subject"] == f"[Blue Team] {title}"


def test_an_expired_dismissal_is_told_once_by_its_expiry(
    team, triager, repositories, channels_for, http_receiver, smtp_server
):
    channels_for(EventKind.DISMISSAL_EXPIRED)
    findings = _detected(repositories[1], severity="critical", days_ago=2, count=3)
    request = _dismissal(team, triager, findings, expires_on=TODAY)

    assert len(dismissals_expire()) == 1
    assert dismissals_expire() == []  # a second run finds nothing left

    title = f"Dismissal #{request.pk} expired: 3 findings reopened"
    key = f"dismissal:{request.pk}:expired"
    webhook, _, _ = told_once_everywhere(http_receiver, "dismissal.expired", key, title)
    assert webhook["data"]["reopening"] == 3
    assert Notification.objects.get().severity == "critical"
    (mail,) = smtp_server.wait_for(1)
    assert mail["Subject"] == f"[Blue Team] {title}"
