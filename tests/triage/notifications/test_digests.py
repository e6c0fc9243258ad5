"""Email preferences and digests: the email channel mails at once only the members who want an
event at once; the daily digest carries the events others chose to gather and the report's
headline figures against the day before, as HTML and plain text through the real SMTP server;
a digest is sent once per member and period, whatever sends it how often."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    FindingEventFactory,
    FindingFactory,
    FixFactory,
    MembershipFactory,
    PullRequestFactory,
    RepositoryFactory,
    UserFactory,
)
from tests.triage.notifications.conftest import deliver_pending
from triage.models import (
    AuditEvent,
    Cadence,
    DigestSend,
    EmailChoice,
    EventKind,
    Membership,
    NotificationChannel,
    Role,
)
from triage.models.notifications import notification_record
from triage.selectors import digests as selectors
from triage.services import digests as services

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache():
    """Digest figures and the "send me one now" limit live in the cache."""
    cache.clear()
    yield
    cache.clear()


def _prefer(user, kind, choice, *, daily=False, weekly=False):
    choices = selectors.email_choices_of(user)
    choices[kind] = choice
    services.email_preferences_set(user=user, choices=choices, daily=daily, weekly=weekly)


def _yesterday_at(hour: int) -> datetime:
    today = timezone.now().astimezone(UTC).date()
    return datetime.combine(today - timedelta(days=1), time(hour), tzinfo=UTC)


def test_the_email_channel_mails_at_once_only_members_who_want_it_so(
    team, member, channel_of, smtp_server
):
    channel_of(NotificationChannel.Kind.EMAIL, events=[EventKind.SCAN_FAILED])
    at_once, gathered, silent = (member(Role.VIEWER, username=n) for n in ("ann", "ben", "cy"))
    _prefer(gathered, EventKind.SCAN_FAILED, EmailChoice.DAILY)
    _prefer(silent, EventKind.SCAN_FAILED, EmailChoice.OFF)
    # A choice for another kind changes nothing of this one.
    _prefer(at_once, EventKind.SCAN_FINISHED, EmailChoice.OFF)

    with transaction.atomic():
        notification_record(
            team_id=team.pk,
            event_kind=EventKind.SCAN_FAILED,
            dedupe_key="scan:1:failed",
            data={"scan_batch": {"repository": "shop", "status": "failed"}},
        )
    assert deliver_pending() == ["delivered"]

    (message,) = smtp_server.messages
    recipients = set(smtp_server.envelopes[0].rcpt_tos)
    assert at_once.email in recipients and "nadia@example.com" in recipients
    assert gathered.email not in recipients and silent.email not in recipients
    assert "shop" in message["Subject"]


def test_nobody_wanting_an_event_at_once_delivers_it_without_an_email(
    team, admin_user, channel_of, smtp_server
):
    channel_of(NotificationChannel.Kind.EMAIL, events=[EventKind.SCAN_FAILED])
    _prefer(admin_user, EventKind.SCAN_FAILED, EmailChoice.DAILY)
    with transaction.atomic():
        notification_record(
            team_id=team.pk, event_kind=EventKind.SCAN_FAILED, dedupe_key="k", data={}
        )
    assert deliver_pending() == ["delivered"]
    assert smtp_server.messages == []


def _history(team):
    """Yesterday: one new high finding and one resolved; the day before: two new."""
    repository = RepositoryFactory(team=team, name="shop")
    before = _yesterday_at(10) - timedelta(days=1)
    older = FindingFactory(
        repository=repository, severity="critical", first_detected_at=before, status="open"
    )
    resolved = FindingFactory(
        repository=repository,
        severity="high",
        first_detected_at=before,
        status="resolved",
        resolved_at=_yesterday_at(9),
    )
    new = FindingFactory(
        repository=repository, severity="high", first_detected_at=_yesterday_at(8), status="open"
    )
    for finding, kind, when in (
        (older, "detected", before),
        (resolved, "detected", before),
        (new, "detected", _yesterday_at(8)),
        (resolved, "resolved_manual", _yesterday_at(9)),
    ):
        FindingEventFactory(finding=finding, event_type=kind, event_timestamp=when)
    fix = FixFactory(repository=repository, created_at=_yesterday_at(11))
    PullRequestFactory(fix=fix, created_at=_yesterday_at(12))


def test_the_daily_digest_tells_the_figures_against_the_day_before_and_the_gathered_events(
    team, member, admin_user, channel_of, smtp_server
):
    _history(team)
    viewer = member(Role.VIEWER, username="vera")
    channel_of(NotificationChannel.Kind.EMAIL, events=[EventKind.SCAN_FAILED])
    _prefer(viewer, EventKind.SCAN_FAILED, EmailChoice.DAILY, daily=True)
    with transaction.atomic():
        notification = notification_record(
            team_id=team.pk,
            event_kind=EventKind.SCAN_FAILED,
            dedupe_key="scan:9:failed",
            data={"scan_batch": {"repository": "shop", "status": "failed"}},
        )
    notification.__class__.objects.filter(pk=notification.pk).update(created_at=_yesterday_at(7))
    deliver_pending()
    smtp_server.messages.clear()

    first_day, last_day = selectors.digest_period(Cadence.DAILY, timezone.now())
    assert first_day == last_day == _yesterday_at(0).date()
    assert selectors.digest_recipients(Cadence.DAILY) == [viewer.pk]
    assert services.digest_send(user_id=viewer.pk, cadence="daily", first_day=first_day) == "sent"

    (message,) = smtp_server.messages
    assert message["To"] == viewer.email
    assert message["Subject"].startswith("Triage Portal daily digest, ")
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "== Blue Team ==" in text
    assert "New findings                1   ▼ 1 (was 2)" in text
    assert "Resolved findings           1   ▲ 1 (was 0)" in text
    assert "Fixes started               1   ▲ 1 (was 0)" in text
    assert "Pull requests opened        1   ▲ 1 (was 0)" in text
    assert "Critical        1   = 0 (was 1)" in text
    assert "High            1   = 0 (was 1)" in text
    assert "Scan scan of shop failed" in text  # the gathered event
    assert f"{settings.PORTAL_BASE_URL}/t/blue/reports/?start=" in text
    assert f'href="{settings.PORTAL_BASE_URL}/account/preferences/email/"' in html
    # An email that reads well in mail clients: tables, inline styles, no images or stylesheets.
    assert '<table role="presentation"' in html and 'style="' in html
    assert "<img" not in html and "<style" not in html and "<link" not in html
    assert "class=" not in html
    assert "▲ 1" in html and "#047857" in html  # more resolved: good news in green


def test_a_digest_is_sent_once_per_member_and_period(team, member, smtp_server):
    viewer = member(Role.VIEWER, username="vera")
    services.email_preferences_set(
        user=viewer, choices=selectors.email_choices_of(viewer), daily=True, weekly=True
    )
    first_day, _ = selectors.digest_period(Cadence.WEEKLY, timezone.now())
    outcomes = [
        services.digest_send(user_id=viewer.pk, cadence="weekly", first_day=first_day)
        for _ in range(3)
    ]
    assert outcomes == ["sent", "skipped", "skipped"]
    assert len(smtp_server.messages) == 1
    assert "weekly digest" in smtp_server.messages[0]["Subject"]


def test_a_claim_of_a_sender_that_died_lapses_and_the_next_sends_it(team, member, smtp_server):
    viewer = member(Role.VIEWER, username="vera")
    services.email_preferences_set(
        user=viewer, choices=selectors.email_choices_of(viewer), daily=True, weekly=False
    )
    first_day, last_day = selectors.digest_period(Cadence.DAILY, timezone.now())
    # A sender claimed it, then its worker was killed before the email went.
    DigestSend.objects.create(
        user=viewer,
        cadence="daily",
        first_day=first_day,
        last_day=last_day,
        claimed_until=timezone.now() + timedelta(seconds=60),
        attempts=1,
    )
    assert services.digest_send(user_id=viewer.pk, cadence="daily", first_day=first_day) == (
        "skipped"
    )
    DigestSend.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert services.digest_send(user_id=viewer.pk, cadence="daily", first_day=first_day) == "sent"
    assert DigestSend.objects.get().attempts == 2
    assert len(smtp_server.messages) == 1


def test_members_who_left_or_chose_nothing_get_no_digest(team, other_team, member, smtp_server):
    stays = member(Role.VIEWER, username="stays")
    left = member(Role.VIEWER, username="left")
    member(Role.VIEWER, username="nothing")
    for user in (stays, left):
        services.email_preferences_set(
            user=user, choices=selectors.email_choices_of(user), daily=True, weekly=False
        )
    Membership.objects.filter(user=left).delete()
    assert selectors.digest_recipients(Cadence.DAILY) == [stays.pk]
    assert selectors.digest_recipients(Cadence.WEEKLY) == []
    # Events gathered for the daily digest, with no subscription: only when there are some.
    quiet = MembershipFactory(team=other_team, role=Role.VIEWER, user=UserFactory()).user
    _prefer(quiet, EventKind.FINDINGS_NEW, EmailChoice.DAILY)
    assert quiet.pk in selectors.digest_recipients(Cadence.DAILY)
    first_day, _ = selectors.digest_period(Cadence.DAILY, timezone.now())
    assert services.digest_send(user_id=quiet.pk, cadence="daily", first_day=first_day) == "empty"
    assert smtp_server.messages == []


def test_beat_queues_a_digest_per_member_due_one(team, member, monkeypatch):
    from triage import tasks

    queued = []
    monkeypatch.setattr(tasks.send_digest, "delay", lambda *args: queued.append(args))
    viewer = member(Role.VIEWER, username="vera")
    services.email_preferences_set(
        user=viewer, choices=selectors.email_choices_of(viewer), daily=False, weekly=True
    )
    assert tasks.send_digests("weekly") == 1
    first_day, _ = selectors.digest_period(Cadence.WEEKLY, timezone.now())
    assert queued == [(viewer.pk, "weekly", first_day.isoformat())]


# The page


def _page():
    return reverse("email-preferences")


def test_the_page_shows_the_defaults_and_saves_the_members_choices(client, team, member):
    viewer = member(Role.VIEWER, username="vera")
    client.force_login(viewer)
    page = client.get(_page())
    assert page.status_code == 200
    form = page.context["form"]
    assert form["kind_scan_failed"].value() == EmailChoice.IMMEDIATE
    assert form["digests"].value() == "none"
    assert reverse("email-preferences") in client.get(reverse("preferences")).content.decode()

    data = {"action": "save", "digests": "both"}
    data |= {f"kind_{k.replace('.', '_')}": "immediate" for k in EventKind.values}
    data["kind_findings_new"] = "daily"
    data["kind_scan_finished"] = "off"
    response = client.post(_page(), data, follow=True)
    assert "Email preferences saved." in response.content.decode()
    choices = selectors.email_choices_of(viewer)
    assert choices[EventKind.FINDINGS_NEW] == "daily" and choices[EventKind.SCAN_FINISHED] == "off"
    assert selectors.digest_subscription_of(viewer).cadences == ["daily", "weekly"]
    event = AuditEvent.objects.get(action="email_preferences.update")
    assert event.details["changed"] == {"findings.new": "daily", "scan.finished": "off"}

    data["kind_findings_new"] = "sometimes"
    bad = client.post(_page(), data)
    assert bad.status_code == 400
    assert selectors.email_choices_of(viewer)[EventKind.FINDINGS_NEW] == "daily"


def test_send_me_one_now_sends_the_digest_at_once_and_is_rate_limited(
    client, team, member, smtp_server
):
    viewer = member(Role.VIEWER, username="vera")
    client.force_login(viewer)
    response = client.post(_page(), {"action": "send_now", "cadence": "weekly"}, follow=True)
    assert f"A weekly digest was sent to {viewer.email}." in response.content.decode()
    (message,) = smtp_server.messages
    assert "weekly digest" in message["Subject"]
    assert "== Blue Team ==" in message.get_body(preferencelist=("plain",)).get_content()
    assert AuditEvent.objects.filter(action="digest.send_now", actor=viewer).count() == 1
    assert DigestSend.objects.get().on_request

    again = client.post(_page(), {"action": "send_now", "cadence": "weekly"}, follow=True)
    assert "try again in a minute" in again.content.decode()
    assert len(smtp_server.messages) == 1
    # Sent on request, it neither counts as nor blocks the scheduled digest.
    services.email_preferences_set(
        user=viewer, choices=selectors.email_choices_of(viewer), daily=False, weekly=True
    )
    first_day, _ = selectors.digest_period(Cadence.WEEKLY, timezone.now())
    assert services.digest_send(user_id=viewer.pk, cadence="weekly", first_day=first_day) == (
        "sent"
    )


def test_the_page_needs_a_signed_in_user_and_a_csrf_token(client, team, member):
    assert client.get(_page()).status_code == 302
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(member(Role.VIEWER, username="vera"))
    assert strict.post(_page(), {"action": "send_now", "cadence": "daily"}).status_code == 403
