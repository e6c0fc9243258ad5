"""Notifications delivered by the real Celery worker on PostgreSQL and Redis: a failed
attempt is retried after its backoff, and the same delivery queued three times (a redelivered
message, a retried task) reaches the receiver once it has succeeded."""

import time

import pytest
from django.db import transaction

from triage import tasks
from triage.models import Delivery, EventKind, NotificationChannel, Role
from triage.models.notifications import notification_record
from triage.services import notifications as services


@pytest.fixture
def fast_backoff(monkeypatch):
    """The worker, started after this, retries after one second."""
    monkeypatch.setenv("PORTAL_NOTIFY_BACKOFF_SECONDS", "1")


def _wait(predicate, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_the_worker_retries_with_backoff_and_sends_a_delivery_once(
    fast_backoff, celery_worker_process, team, member, http_receiver
):
    admin = member(Role.ADMIN, username="ada")
    channel = services.channel_create(
        team=team,
        actor=admin,
        name="Hooks",
        kind=NotificationChannel.Kind.WEBHOOK,
        url=http_receiver.url,
        secret="worker-signing-secret-01",
    )
    services.rule_create(
        team=team, actor=admin, channel_id=channel.pk, event_kind=EventKind.SCAN_FINISHED
    )
    http_receiver.answer((500, {}, b"not yet"), (200, {}, b"ok"))

    with transaction.atomic():
        notification_record(
            team_id=team.pk, event_kind=EventKind.SCAN_FINISHED, dedupe_key="worker", data={}
        )
    delivery = Delivery.objects.get()
    assert _wait(lambda: Delivery.objects.get(pk=delivery.pk).state == "delivered")
    # The same delivery queued again, as a redelivered message or a retried task would be.
    tasks.deliver_notification.delay(delivery.pk)
    tasks.deliver_notification.delay(delivery.pk)
    tasks.deliver_notifications_due.delay()
    time.sleep(3)

    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert delivery.status_code == 200
    assert len(http_receiver.requests) == 2  # the 500, then the one that was taken
