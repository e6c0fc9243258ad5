"""Notifications: a team's channels, the rules that route events to them, and the outbox.

An event that should tell people something (a scan batch finished, a sync brought new
findings) is written as a `Notification` with one `Delivery` per channel whose rule matches,
in the transaction of the change that causes it (`notification_record`). The dedupe key is
unique per team, so the same event recorded again (a re-sync, a retried task) adds nothing.
Deliveries are sent by the `deliver_notification` task (`services/notifications.py`), which
claims one with a conditional update, so a re-queued or retried task never sends a
delivered message again.

`notification_record` lives here, below the syncs, as `audit_log` does: syncs and services
both record events without importing each other.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db import models, transaction

from triage.encryption import EncryptedSecretField
from triage.models.mirror import Severity
from triage.models.teams import Team
from triage.task_queue import TaskName, task_send

logger = logging.getLogger("triage.notifications")

# Most severe first: a rule's minimum severity lets through its own and those before it.
SEVERITY_ORDER = [Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO]


def severity_at_least(severity: str | None, minimum: str) -> bool:
    """Whether `severity` is `minimum` or more severe; no minimum lets everything through."""
    if not minimum:
        return True
    order = [str(value) for value in SEVERITY_ORDER]
    if severity not in order:
        return False
    return order.index(severity) <= order.index(minimum)


class EventKind(models.TextChoices):
    """The events a rule can route. Each has a builder of its message in the services."""

    SCAN_FINISHED = "scan.finished", "Scan batch finished"
    SCAN_FAILED = "scan.failed", "Scan batch failed"
    FINDINGS_NEW = "findings.new", "New findings from a sync"
    SYNC_FAILING = "sync.failing", "Sync failing"
    KEY_REJECTED = "connection.key_rejected", "Connection key rejected"
    FIX_READY = "fix.ready", "Fix ready for review"
    APPROVAL_REQUESTED = "approval.requested", "Approval of a fix requested"
    APPROVAL_DECIDED = "approval.decided", "Approval of a fix decided"


class NotificationChannel(models.Model):
    """Where a team's notifications go: a signed webhook, Slack, Microsoft Teams or email."""

    class Kind(models.TextChoices):
        WEBHOOK = "webhook", "Signed webhook"
        SLACK = "slack", "Slack (incoming webhook)"
        TEAMS = "teams", "Microsoft Teams (workflow webhook)"
        EMAIL = "email", "Email to the team's members"

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        FAILING = "failing", "Failing"

    WEBHOOK_KINDS = (Kind.WEBHOOK, Kind.SLACK, Kind.TEAMS)

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="notification_channels")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Encrypted at rest and never shown again: pages show `url_hint` (host and last characters).
    url = EncryptedSecretField(null=True, blank=True)
    url_hint = models.CharField(max_length=300, blank=True)
    # The HMAC key of a signed webhook, encrypted at rest.
    secret = EncryptedSecretField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    consecutive_failures = models.IntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="notify_channel_team_name")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_failing(self) -> bool:
        return self.state == self.State.FAILING


class NotificationRule(models.Model):
    """Send events of `event_kind` to `channel`, when at least `min_severity` (blank: all)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="rules")
    event_kind = models.CharField(max_length=40, choices=EventKind.choices)
    min_severity = models.CharField(max_length=20, blank=True, choices=Severity.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["event_kind", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "event_kind"], name="notify_rule_channel_event"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_event_kind_display()} → {self.channel}"


class Notification(models.Model):
    """One event to tell, written with the change that causes it; the outbox's entry."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    # Sent to receivers as the event's id: they can drop a message they have seen.
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event_kind = models.CharField(max_length=40, choices=EventKind.choices)
    # The same event is recorded once per team, however often the change is seen again.
    dedupe_key = models.CharField(max_length=200)
    # The most severe finding the event is about, for rules with a minimum severity.
    severity = models.CharField(max_length=20, blank=True)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["team", "dedupe_key"], name="notify_dedupe_key")
        ]

    def __str__(self) -> str:
        return f"{self.event_kind} {self.dedupe_key}"


class Delivery(models.Model):
    """One notification to one channel: its attempts and how the receiver answered."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        RETRYING = "retrying", "Waiting to retry"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    SENDABLE_STATES = (State.PENDING, State.RETRYING)

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.ForeignKey(
        NotificationChannel, on_delete=models.CASCADE, related_name="deliveries"
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.IntegerField(default=0)
    status_code = models.IntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=300, blank=True)
    error = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # While `sending`, the attempt's claim lapses then (a worker killed mid-send).
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "channel"], name="notify_delivery_unique"
            )
        ]
        indexes = [
            models.Index(fields=["team", "-created_at"], name="notify_delivery_team"),
            models.Index(fields=["state", "next_attempt_at"], name="notify_delivery_due"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} of {self.notification_id} to {self.channel_id}"


def notification_record(
    *,
    team_id: int,
    event_kind: str,
    dedupe_key: str,
    data: dict[str, Any],
    severity: str = "",
) -> Notification | None:
    """Write the event to the outbox with a delivery per matching rule, in the caller's
    transaction; queue the deliveries once it commits.

    Answers None when no rule wants the event or it was recorded before (same dedupe key).
    """
    rules = [
        rule
        for rule in NotificationRule.objects.filter(team_id=team_id, event_kind=event_kind)
        if severity_at_least(severity, rule.min_severity)
    ]
    if not rules:
        return None
    with transaction.atomic():
        notification, created = Notification.objects.get_or_create(
            team_id=team_id,
            dedupe_key=dedupe_key[:200],
            defaults={"event_kind": event_kind, "data": data, "severity": severity or ""},
        )
        if not created:
            return None
        deliveries = Delivery.objects.bulk_create(
            [
                Delivery(notification=notification, channel_id=rule.channel_id, team_id=team_id)
                for rule in rules
            ]
        )
    ids = [delivery.pk for delivery in deliveries]
    transaction.on_commit(lambda: deliveries_queue(ids))
    return notification


def deliveries_queue(delivery_ids: list[int]) -> None:
    """Queue the deliveries' tasks. A broker that is away fails nothing: the change is
    committed, and beat's sweep (`deliver_notifications_due`) queues them once it is back."""
    try:
        for delivery_id in delivery_ids:
            task_send(TaskName.DELIVER_NOTIFICATION, delivery_id)
    except Exception:
        logger.warning("could not queue notification deliveries; the sweep will", exc_info=True)
