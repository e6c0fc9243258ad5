"""Shared set-up of the notification tests: an admin, one channel of each kind pointed at the
local receiver (email at the team's members), and rules sending every event to each."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from triage.models import Delivery, EventKind, Notification, NotificationChannel, Role
from triage.services import notifications as services

SECRET = "s3cret-signing-key-of-the-test"


@pytest.fixture
def admin_user(member):
    user = member(Role.ADMIN, username="nadia")
    user.email = "nadia@example.com"
    user.save()
    return user


@pytest.fixture
def channel_of(team, admin_user, http_receiver):
    """Make a channel of `kind` (webhooks post to the receiver) with rules for `events`."""

    def make(kind: str, *, events=tuple(EventKind.values), min_severity: str = ""):
        channel = services.channel_create(
            team=team,
            actor=admin_user,
            name=f"{kind} channel",
            kind=kind,
            url=http_receiver.url if kind in NotificationChannel.WEBHOOK_KINDS else "",
            secret=SECRET if kind == NotificationChannel.Kind.WEBHOOK else "",
        )
        for event in events:
            services.rule_create(
                team=team,
                actor=admin_user,
                channel_id=channel.pk,
                event_kind=event,
                min_severity=min_severity,
            )
        return channel

    return make


@pytest.fixture
def every_channel(channel_of, smtp_server):
    return {kind: channel_of(kind) for kind in NotificationChannel.Kind.values}


def deliver_pending() -> list[str]:
    """Attempt every delivery that is due, as the task would; answer the outcomes."""
    outcomes = []
    for delivery_id in services.deliveries_due():
        outcomes.append(services.delivery_attempt(delivery_id=delivery_id).outcome)
    return outcomes


CHANNEL_KINDS = NotificationChannel.Kind.values


def receiver_bodies(receiver) -> list[dict]:
    """The JSON bodies the local receiver got, in order."""
    return [json.loads(request.body) for request in receiver.requests]


def delivered_everywhere(receiver) -> dict[str, dict]:
    """Deliver what is due, check it reached every channel once, and answer the bodies the
    receiver got by kind (email goes to the SMTP server, not the receiver)."""
    assert sorted(deliver_pending()) == ["delivered"] * len(CHANNEL_KINDS)
    assert deliver_pending() == []
    bodies = receiver_bodies(receiver)
    assert len(bodies) == 3
    return {
        "webhook": next(body for body in bodies if "schema_version" in body),
        "slack": next(body for body in bodies if "blocks" in body),
        "teams": next(body for body in bodies if body.get("type") == "message"),
    }


def told_once_everywhere(
    receiver, event_kind: str, dedupe_key: str, title: str
) -> tuple[dict, dict, dict]:
    """Check the one recorded event, deliver it to every channel and check its title there;
    answer the webhook, Slack and Teams bodies."""
    notification = Notification.objects.get()
    assert (notification.event_kind, notification.dedupe_key) == (event_kind, dedupe_key)
    bodies = delivered_everywhere(receiver)
    webhook, slack, teams = bodies["webhook"], bodies["slack"], bodies["teams"]
    assert (webhook["event"], webhook["title"]) == (event_kind, title)
    assert slack["blocks"][0]["text"]["text"] == title[:150]
    assert teams["attachments"][0]["content"]["body"][0]["text"] == title
    return webhook, slack, teams


def deliveries_of(kind: str):
    return Delivery.objects.filter(notification__event_kind=kind).select_related("channel")


def verify_signature(
    secret: str,
    headers: dict[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance_seconds: int = 300,
) -> bool:
    """The reference verifier of the README: recompute HMAC-SHA256 over "<timestamp>.<body>"
    with the channel's secret, compare in constant time, and refuse a timestamp older (or
    newer) than the tolerance, so a captured message cannot be replayed later."""
    timestamp = headers.get("x-portal-timestamp", "")
    signature = headers.get("x-portal-signature", "")
    if not timestamp.isdigit() or not signature.startswith("v1="):
        return False
    if abs((now if now is not None else time.time()) - int(timestamp)) > tolerance_seconds:
        return False
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, signature[3:])
