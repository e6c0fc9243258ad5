"""Notifications delivered by the real Celery worker on PostgreSQL and Redis: a failed
attempt is retried after its backoff, and the same delivery queued three times (a redelivered
message, a retried task) reaches the receiver once it has succeeded."""

import time

import pytest
from django.db import transaction
from django.utils import timezone

from tests.conftest import wait_until as _wait
from triage import tasks
from triage.models import Delivery, EventKind, NotificationChannel, Role
from triage.models.notifications import notification_record
from triage.services import notifications as services


@pytest.fixture
def fast_backoff(monkeypatch):
    """The worker, started after this, retries after one second."""
    monkeypatch.setenv("PORTAL_NOTIFY_BACKOFF_SECONDS", "1")


def _finished_scans_hook(team, member, http_receiver) -> None:
    """A signed webhook on the local receiver, sent every finished scan batch."""
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


def test_the_worker_retries_with_backoff_and_sends_a_delivery_once(
    fast_backoff, celery_worker_process, team, member, http_receiver
):
    _finished_scans_hook(team, member, http_receiver)
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


@pytest.fixture
def short_claim(monkeypatch):
    """Workers started after this take a claim older than three seconds for a dead sender's."""
    monkeypatch.setenv("PORTAL_NOTIFY_CLAIM_SECONDS", "3")


def test_a_worker_killed_mid_delivery_and_a_re_sync_notify_nothing_twice(
    short_claim, transactional_db, team, member, http_receiver
):
    from tests.conftest import celery_worker_running

    _finished_scans_hook(team, member, http_receiver)
    # The first request stalls: the worker is killed while it waits for the answer.
    http_receiver.stalls = {0: 30}

    def record():
        with transaction.atomic():
            return notification_record(
                team_id=team.pk,
                event_kind=EventKind.SCAN_FINISHED,
                dedupe_key="scan-batch:7:finished",
                data={},
            )

    with celery_worker_running(hostname="doomed-worker") as doomed:
        record()
        http_receiver.wait_for(1, seconds=30)
        assert len(http_receiver.requests) == 1
        delivery = Delivery.objects.get()
        assert delivery.state == Delivery.State.SENDING and delivery.claimed_until is not None
        doomed.kill()  # SIGKILL, mid-send: no chance to record anything
        doomed.wait(timeout=10)
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (Delivery.State.SENDING, 1)

    with celery_worker_running(hostname="next-worker"):
        # Once the claim lapses, beat's sweep sends it again, once, however often it runs.
        assert _wait(lambda: Delivery.objects.get().claimed_until < timezone.now(), 10)
        for _ in range(3):
            tasks.deliver_notifications_due.delay()
            tasks.deliver_notification.delay(delivery.pk)
        assert _wait(lambda: Delivery.objects.get().state == Delivery.State.DELIVERED)
        # A re-sync records the same event again: nothing new to send.
        assert record() is None
        tasks.deliver_notifications_due.delay()
        time.sleep(3)

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.status_code) == ("delivered", 2, 200)
    # The killed attempt's request and the one that was answered: both carry the same
    # notification id, which lets a receiver drop the first if it ever acted on it.
    assert len(http_receiver.requests) == 2
    ids = {request.headers["x-portal-notification-id"] for request in http_receiver.requests}
    assert len(ids) == 1
