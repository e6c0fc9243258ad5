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

from django.conf import settings
from django.db import models, transaction

from triage.encryption import EncryptedSecretField
from triage.models.mirror import Repository, ScanType, Severity
from triage.models.ownership import Squad
from triage.models.teams import Team, TeamOwnedModel
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
    PULL_REQUEST_OPENED = "pull_request.opened", "Pull request opened"
    PULL_REQUEST_MERGED = "pull_request.merged", "Pull request merged"
    PULL_REQUEST_CLOSED = "pull_request.closed", "Pull request closed"
    SLA_DUE_SOON = "sla.due_soon", "SLA due within N days"
    SLA_BREACHED = "sla.breached", "SLA breached"
    DISMISSAL_EXPIRING = "dismissal.expiring", "Dismissal about to expire"
    DISMISSAL_EXPIRED = "dismissal.expired", "Dismissal expired"
    QUOTA_LOW = "quota.low", "Quota below a threshold"


# The filters a rule may set, by event kind: a filter applies only to the events that carry
# what it filters on (a minimum severity only to events about findings), and the rule form
# refuses one set for an event it does not apply to. Recorded with an event as its `scope`.
FINDING_FILTERS = frozenset({"min_severity", "repositories", "scan_type", "owner"})
RULE_FILTERS_OF_KIND: dict[str, frozenset[str]] = {
    EventKind.FINDINGS_NEW: FINDING_FILTERS,
    EventKind.SLA_DUE_SOON: FINDING_FILTERS | {"days"},
    EventKind.SLA_BREACHED: FINDING_FILTERS,
    EventKind.DISMISSAL_EXPIRING: FINDING_FILTERS | {"days"},
    EventKind.DISMISSAL_EXPIRED: FINDING_FILTERS,
    EventKind.SCAN_FINISHED: frozenset({"repositories", "scan_type"}),
    EventKind.SCAN_FAILED: frozenset({"repositories", "scan_type"}),
    EventKind.FIX_READY: frozenset({"repositories"}),
    EventKind.APPROVAL_REQUESTED: frozenset({"repositories"}),
    EventKind.APPROVAL_DECIDED: frozenset({"repositories"}),
    EventKind.PULL_REQUEST_OPENED: frozenset({"repositories"}),
    EventKind.PULL_REQUEST_MERGED: frozenset({"repositories"}),
    EventKind.PULL_REQUEST_CLOSED: frozenset({"repositories"}),
    EventKind.QUOTA_LOW: frozenset({"threshold_percent"}),
}
DEFAULT_RULE_DAYS = 3
MAX_RULE_DAYS = 90
DEFAULT_RULE_THRESHOLD_PERCENT = 10


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


class NotificationRule(TeamOwnedModel):
    """Send events of `event_kind` to `channel`, when at least `min_severity` (blank: all)."""

    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="rules")
    event_kind = models.CharField(max_length=40, choices=EventKind.choices)
    min_severity = models.CharField(max_length=20, blank=True, choices=Severity.choices)
    # Filters (`RULE_FILTERS_OF_KIND`): none set lets every event of the kind through.
    repositories = models.ManyToManyField(Repository, blank=True, related_name="+")
    scan_type = models.CharField(max_length=40, blank=True, choices=ScanType.choices)
    owner_squad = models.ForeignKey(
        Squad, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    owner_member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    # "SLA due within" and "dismissal about to expire": how many days ahead.
    days = models.PositiveSmallIntegerField(default=DEFAULT_RULE_DAYS)
    # "Quota below a threshold": the share of a counter left, in percent.
    threshold_percent = models.PositiveSmallIntegerField(default=DEFAULT_RULE_THRESHOLD_PERCENT)

    class Meta:
        ordering = ["event_kind", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "event_kind"], name="notify_rule_channel_event"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_event_kind_display()} → {self.channel}"


class Notification(TeamOwnedModel):
    """One event to tell, written with the change that causes it; the outbox's entry."""

    # Sent to receivers as the event's id: they can drop a message they have seen.
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event_kind = models.CharField(max_length=40, choices=EventKind.choices)
    # The same event is recorded once per team, however often the change is seen again.
    dedupe_key = models.CharField(max_length=200)
    # The most severe finding the event is about, for rules with a minimum severity.
    severity = models.CharField(max_length=20, blank=True)
    data = models.JSONField(default=dict)

    class Meta(TeamOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["team", "dedupe_key"], name="notify_dedupe_key")
        ]

    def __str__(self) -> str:
        return f"{self.event_kind} {self.dedupe_key}"


class ClaimedSend(models.Model):
    """A message a worker claims before sending it (a delivery, a digest email), so that a
    retried or duplicated task sends it once."""

    # While `sending`, the claim lapses then (a worker killed mid-send) and another may take it.
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.IntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        abstract = True


class Delivery(TeamOwnedModel, ClaimedSend):
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
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    status_code = models.IntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=300, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta(TeamOwnedModel.Meta):
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
    scope: dict[str, Any] | None = None,
    rules: list[NotificationRule] | None = None,
) -> Notification | None:
    """Write the event to the outbox with a delivery per matching rule, in the caller's
    transaction; queue the deliveries once it commits. `scope` is what the rules' filters
    match (`rule_matches`); `rules`, when given, are the rules chosen by the caller.

    Answers None when no rule wants the event or it was recorded before (same dedupe key).
    """
    if rules is None:
        rules = [
            rule
            for rule in rules_of(team_id=team_id, event_kind=event_kind)
            if rule_matches(rule, event_kind=event_kind, severity=severity, scope=scope)
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


def rules_of(*, team_id: int, event_kind: str) -> list[NotificationRule]:
    """The team's rules of `event_kind`, with their repository filter."""
    return list(
        NotificationRule.objects.filter(team_id=team_id, event_kind=event_kind)
        .select_related("owner_squad", "owner_member")
        .prefetch_related(
            models.Prefetch("repositories", queryset=Repository.objects.only("pk", "name"))
        )
    )


def rule_matches(
    rule: NotificationRule, *, event_kind: str, severity: str = "", scope: dict | None = None
) -> bool:
    """Whether the event passes `rule`'s filters. A filter applies only to the event kinds of
    `RULE_FILTERS_OF_KIND`: a minimum severity lets through an event about findings at least
    that severe and is not looked at for others (a scan failed, a key rejected, a quota).
    `scope` holds the event's "repository_ids", "scan_types", "squad_ids" and "member_ids";
    an event that lacks what an applicable filter asks for does not pass it."""
    applies = RULE_FILTERS_OF_KIND.get(event_kind, frozenset())
    scope = scope or {}
    if "min_severity" in applies and not severity_at_least(severity, rule.min_severity):
        return False
    if "repositories" in applies:
        wanted = {repository.pk for repository in rule.repositories.all()}
        if wanted and not wanted & set(scope.get("repository_ids", ())):
            return False
    if "scan_type" in applies and rule.scan_type not in ("", *scope.get("scan_types", ())):
        return False
    if "owner" in applies:
        if rule.owner_squad_id and rule.owner_squad_id not in scope.get("squad_ids", ()):
            return False
        if rule.owner_member_id and rule.owner_member_id not in scope.get("member_ids", ()):
            return False
    return True


def rule_filter_key(rule: NotificationRule, *, with_severity: bool = True) -> str:
    """The rule's content filters as a short stable key ("" for none): rules with the same
    filters share one summary, whose dedupe key ends with it."""
    applies = RULE_FILTERS_OF_KIND.get(rule.event_kind, frozenset())
    if not with_severity:
        applies = applies - {"min_severity"}
    parts = [
        f"sev={rule.min_severity}" if "min_severity" in applies and rule.min_severity else "",
        "repo=" + ",".join(str(pk) for pk in sorted(r.pk for r in rule.repositories.all()))
        if "repositories" in applies and rule.repositories.all()
        else "",
        f"scan={rule.scan_type}" if "scan_type" in applies and rule.scan_type else "",
        f"squad={rule.owner_squad_id}" if "owner" in applies and rule.owner_squad_id else "",
        f"member={rule.owner_member_id}" if "owner" in applies and rule.owner_member_id else "",
        f"days={rule.days}" if "days" in applies else "",
    ]
    return ";".join(part for part in parts if part)


def rule_findings_q(rule: NotificationRule, *, with_severity: bool = True) -> models.Q:
    """The findings the rule's content filters keep, as a filter of `Finding`."""
    applies = RULE_FILTERS_OF_KIND.get(rule.event_kind, frozenset())
    q = models.Q()
    if with_severity and "min_severity" in applies and rule.min_severity:
        order = [str(value) for value in SEVERITY_ORDER]
        q &= models.Q(severity__in=order[: order.index(rule.min_severity) + 1])
    repository_pks = [repository.pk for repository in rule.repositories.all()]
    if "repositories" in applies and repository_pks:
        q &= models.Q(repository_id__in=repository_pks)
    if "scan_type" in applies and rule.scan_type:
        q &= models.Q(scan_type=rule.scan_type)
    if "owner" in applies and rule.owner_squad_id:
        q &= models.Q(owner_squad_id=rule.owner_squad_id)
    if "owner" in applies and rule.owner_member_id:
        q &= models.Q(owner_member_id=rule.owner_member_id)
    return q


def deliveries_queue(delivery_ids: list[int]) -> None:
    """Queue the deliveries' tasks. A broker that is away fails nothing: the change is
    committed, and beat's sweep (`deliver_notifications_due`) queues them once it is back."""
    try:
        for delivery_id in delivery_ids:
            task_send(TaskName.DELIVER_NOTIFICATION, delivery_id)
    except Exception:
        logger.warning("could not queue notification deliveries; the sweep will", exc_info=True)
