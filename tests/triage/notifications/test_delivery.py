"""Delivering the outbox: retries with backoff (a 429's Retry-After honoured), a failing
channel marked and its messages kept, a retried or re-queued task sending nothing twice, the
signature a receiver verifies, and the payload shapes Slack and Teams document."""

import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tests.triage.notifications.conftest import SECRET, deliver_pending, verify_signature
from triage import tasks
from triage.models import (
    AuditEvent,
    Delivery,
    EventKind,
    Notification,
    NotificationChannel,
    Role,
)
from triage.models.notifications import notification_record
from triage.services import notification_messages as messages
from triage.services import notifications as services

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "notifications"


def _record(team, key: str = "scan-batch:1:settled", kind: str = EventKind.SCAN_FINISHED):
    return notification_record(
        team_id=team.pk,
        event_kind=kind,
        dedupe_key=key,
        data={"scan_batch": {"repository": "payments", "status": "completed"}},
    )


def _due_now():
    Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def test_the_same_event_recorded_twice_is_one_notification(team, channel_of):
    channel_of("webhook")
    assert _record(team) is not None
    assert _record(team) is None
    assert Notification.objects.count() == 1
    assert Delivery.objects.count() == 1


def test_no_rule_no_notification(team, channel_of):
    channel_of("webhook", events=[EventKind.FINDINGS_NEW])
    assert _record(team) is None
    assert not Notification.objects.exists()


def test_a_retried_or_requeued_task_does_not_send_twice(team, channel_of, http_receiver):
    channel_of("webhook")
    _record(team)
    delivery = Delivery.objects.get()

    assert tasks.deliver_notification(delivery.pk) == "delivered"
    assert tasks.deliver_notification(delivery.pk) == "skipped"
    assert tasks.deliver_notifications_due() == 0
    assert len(http_receiver.requests) == 1


def test_a_worker_killed_mid_send_is_picked_up_by_the_sweep(team, channel_of, http_receiver):
    channel_of("webhook")
    _record(team)
    delivery = Delivery.objects.get()
    # What a worker that died after claiming leaves behind: "sending", with a lapsed claim.
    Delivery.objects.filter(pk=delivery.pk).update(
        state=Delivery.State.SENDING, claimed_until=timezone.now() - timedelta(seconds=1)
    )
    assert services.deliveries_due() == [delivery.pk]
    assert deliver_pending() == ["delivered"]
    assert len(http_receiver.requests) == 1


def test_a_failing_receiver_is_retried_with_backoff_then_marked_and_kept(
    team, channel_of, http_receiver, settings, admin_user, client_as
):
    settings.PORTAL_NOTIFY_BACKOFF_SECONDS = 10
    channel = channel_of("webhook")
    http_receiver.answer((500, {}, b"receiver broke"))
    _record(team)
    delivery = Delivery.objects.get()

    waits = []
    for _ in range(services.MAX_ATTEMPTS):
        before = timezone.now()
        outcome = services.delivery_attempt(delivery_id=delivery.pk)
        delivery.refresh_from_db()
        if outcome.outcome == "retry":
            waits.append(round(outcome.countdown))
            assert delivery.state == Delivery.State.RETRYING
            assert delivery.next_attempt_at >= before + timedelta(seconds=outcome.countdown - 1)
            # Not due yet: nothing is sent before the wait is over.
            assert services.delivery_attempt(delivery_id=delivery.pk).outcome == "skipped"
            _due_now()
    assert waits == [10, 20, 40, 80, 160, 320, 640]
    assert outcome.outcome == "failed"
    assert delivery.state == Delivery.State.FAILED
    assert delivery.attempts == services.MAX_ATTEMPTS
    assert delivery.status_code == 500
    assert delivery.error == "The receiver answered HTTP 500."
    assert delivery.response_excerpt == "receiver broke"
    assert len(http_receiver.requests) == services.MAX_ATTEMPTS
    channel.refresh_from_db()
    assert channel.state == NotificationChannel.State.FAILING

    client = client_as(admin_user)
    log = client.get(f"/t/{team.slug}/settings/notifications/log/").content.decode()
    assert f'id="delivery-{delivery.pk}"' in log
    assert "The receiver answered HTTP 500." in log and ">8<" in log and ">500<" in log
    assert f'id="failing-{channel.pk}"' in log
    page = client.get(f"/t/{team.slug}/settings/notifications/").content.decode()
    assert "is failing" in page

    # The receiver is fixed: "Redeliver" sends the kept message, and the channel recovers.
    http_receiver.answer((204, {}, b""))
    response = client.post(
        f"/t/{team.slug}/settings/notifications/log/",
        {"action": "redeliver", "delivery": delivery.pk},
    )
    assert response.status_code == 302
    assert deliver_pending() == ["delivered"]
    channel.refresh_from_db()
    assert channel.state == NotificationChannel.State.ACTIVE
    assert AuditEvent.objects.filter(action="notification_delivery.redeliver").count() == 1


def test_a_429_waits_as_long_as_retry_after_says(team, channel_of, http_receiver, settings):
    settings.PORTAL_NOTIFY_BACKOFF_SECONDS = 1
    channel_of("slack")
    http_receiver.answer((429, {"Retry-After": "120"}, b"rate_limited"), (200, {}, b"ok"))
    _record(team)
    delivery = Delivery.objects.get()

    outcome = services.delivery_attempt(delivery_id=delivery.pk)

    assert outcome.outcome == "retry" and outcome.countdown == 120
    delivery.refresh_from_db()
    assert delivery.status_code == 429
    _due_now()
    assert deliver_pending() == ["delivered"]


def test_the_task_queues_its_retry_after_the_backoff(team, channel_of, http_receiver, monkeypatch):
    channel_of("webhook")
    http_receiver.answer((503, {}, b""))
    _record(team)
    delivery = Delivery.objects.get()
    queued = []
    monkeypatch.setattr(
        tasks.deliver_notification, "apply_async", lambda args, countdown: queued.append(countdown)
    )

    assert tasks.deliver_notification(delivery.pk) == "retry"

    assert queued == [services.backoff_delay(1)]


def test_a_redirect_is_not_followed(team, channel_of, http_receiver):
    channel_of("teams")
    http_receiver.answer((302, {"Location": "http://169.254.169.254/latest/"}, b""))
    _record(team)
    assert deliver_pending() == ["retry"]
    delivery = Delivery.objects.get()
    assert "redirects are not followed" in delivery.error
    assert len(http_receiver.requests) == 1


# The signature


def test_the_reference_verifier_accepts_the_signature_and_refuses_tampering(
    team, channel_of, http_receiver
):
    channel_of("webhook")
    _record(team)
    deliver_pending()
    (request,) = http_receiver.requests
    body, headers = request.body, request.headers

    assert verify_signature(SECRET, headers, body)
    payload = json.loads(body)
    assert payload["schema_version"] == 1 and payload["event"] == "scan.finished"
    assert headers["x-portal-notification-id"] == payload["id"]

    tampered = body.replace(b"payments", b"pAyments")
    assert not verify_signature(SECRET, headers, tampered)
    assert not verify_signature("another-secret-of-16+", headers, body)
    an_hour_later = int(headers["x-portal-timestamp"]) + 3600
    assert not verify_signature(SECRET, headers, body, now=an_hour_later)
    # A captured message sent again with a fresh timestamp: the signature no longer matches.
    restamped = {**headers, "x-portal-timestamp": str(int(headers["x-portal-timestamp"]) + 1)}
    assert not verify_signature(SECRET, restamped, body, now=time.time() + 1)


# Payload shapes


def _shape_errors(value, reference, where="$") -> list[str]:
    """Where `value` departs from the shape of the documented `reference`: every key the
    reference has, with a value of the same JSON type; lists item by item against the
    reference item of the same "type"."""
    if isinstance(reference, dict):
        if not isinstance(value, dict):
            return [f"{where}: not an object"]
        errors = []
        for key, expected in reference.items():
            if key not in value:
                if key not in ("fields", "size", "weight"):  # optional in the docs
                    errors.append(f"{where}.{key}: missing")
                continue
            errors += _shape_errors(value[key], expected, f"{where}.{key}")
        return errors
    if isinstance(reference, list):
        if not isinstance(value, list):
            return [f"{where}: not a list"]
        errors = []
        by_type = {item.get("type"): item for item in reference if isinstance(item, dict)}
        for index, item in enumerate(value):
            kind = item.get("type") if isinstance(item, dict) else None
            match = by_type.get(kind) if by_type else reference[0] if reference else None
            if match is None:
                errors.append(f"{where}[{index}]: type {kind!r} not in the documented sample")
                continue
            errors += _shape_errors(item, match, f"{where}[{index}]")
        return errors
    if reference is None:
        return [] if value is None else [f"{where}: should be null"]
    if type(value) is not type(reference):
        return [f"{where}: {type(value).__name__}, documented {type(reference).__name__}"]
    return []


def _sample_message(team):
    notification = _record(team) or Notification.objects.get()
    return messages.message_of(notification, team)


def test_slack_messages_have_the_documented_block_kit_shape(team, channel_of):
    channel_of("slack")
    body = messages.slack_body(_sample_message(team))
    reference = json.loads((FIXTURES / "slack_incoming_webhook.json").read_text())
    assert _shape_errors(body, reference) == []
    assert len(body["blocks"][0]["text"]["text"]) <= 150


def test_teams_messages_have_the_documented_adaptive_card_shape(team, channel_of):
    channel_of("teams")
    body = messages.teams_body(_sample_message(team))
    reference = json.loads((FIXTURES / "teams_workflow_adaptive_card.json").read_text())
    assert _shape_errors(body, reference) == []
    assert body["attachments"][0]["content"]["version"] == "1.4"


def test_email_goes_to_every_member_by_blind_copy(team, channel_of, smtp_server, member):
    other = member(Role.VIEWER)
    other.email = "vic@example.com"
    other.save()
    channel_of("email")
    _record(team)
    assert deliver_pending() == ["delivered"]
    (mail,) = smtp_server.wait_for(1)
    envelope = smtp_server.envelopes[0]
    assert sorted(envelope.rcpt_tos) == ["nadia@example.com", "vic@example.com"]
    assert "vic@example.com" not in str(mail)
    assert mail["Subject"].startswith("[Blue Team]")
    assert Delivery.objects.get().response_excerpt == "Sent to 2 members."


def test_a_broker_away_when_the_change_commits_loses_nothing(
    team, channel_of, http_receiver, monkeypatch, django_capture_on_commit_callbacks
):
    channel_of("webhook")

    def broker_down(*args):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.deliver_notification, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        _record(team)

    monkeypatch.setattr(tasks.deliver_notification, "delay", lambda pk: deliver_pending())
    assert tasks.deliver_notifications_due() == 1
    assert len(http_receiver.requests) == 1


def test_a_channel_sends_at_most_its_messages_a_minute(team, channel_of, http_receiver, settings):
    from django.core.cache import cache

    settings.PORTAL_NOTIFY_CHANNEL_PER_MINUTE = 3
    channel = channel_of("webhook")
    # Channel ids repeat from test to test: this one's count starts at nought.
    minute = int(timezone.now().timestamp() // 60)
    cache.delete_many([f"triage:rate:notify:{channel.pk}:{m}" for m in (minute, minute + 1)])
    for index in range(5):
        _record(team, key=f"scan-batch:{index}:settled")

    outcomes = deliver_pending()

    assert sorted(outcomes) == ["delivered"] * 3 + ["retry"] * 2
    assert len(http_receiver.requests) == 3
    waiting = Delivery.objects.exclude(state=Delivery.State.DELIVERED)
    assert [delivery.attempts for delivery in waiting] == [0, 0]
    assert all(delivery.next_attempt_at > timezone.now() for delivery in waiting)
