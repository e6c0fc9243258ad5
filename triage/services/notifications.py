"""Settings → Notifications: a team's channels and rules, sending and redelivering.

Team admins add channels (a signed webhook, Slack, Microsoft Teams, email to the members) and
rules (which events, from which severity, go to which channel). Events are recorded in the
outbox by `notification_record` (models/notifications.py) in the transaction of their change;
the `deliver_notification` task calls `delivery_attempt` for each delivery.

An attempt claims its delivery with one conditional update, so two tasks for the same
delivery (a re-queued message, a retry racing the sweep) send it once. A failed attempt is
retried with exponential backoff (a 429's `Retry-After` when longer); after
`MAX_ATTEMPTS` the delivery is failed and kept for "Redeliver". A channel whose deliveries
keep failing is marked failing, and the settings page says so.
"""

from __future__ import annotations

import logging
import smtplib
import time
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from triage.clients import webhook_outbound_policy
from triage.models import (
    Delivery,
    EventKind,
    Membership,
    Notification,
    NotificationChannel,
    NotificationRule,
    Repository,
    Role,
    Squad,
    Team,
)
from triage.models.notifications import MAX_RULE_DAYS, RULE_FILTERS_OF_KIND
from triage.outbound import OutboundNoAnswer, OutboundRefused, post
from triage.selectors.digests import immediate_recipients
from triage.services import notification_messages as messages
from triage.services.audit import audit_log
from triage.services.errors import ServiceError
from triage.services.rate import minute_count, seconds_to_next_minute
from triage.services.teams import require_role

logger = logging.getLogger("triage.notifications")

MANAGE_ROLE = Role.ADMIN
MAX_ATTEMPTS = 8
# A channel is marked failing after this many failed attempts in a row (any of its deliveries).
FAILING_AFTER = 5
# How long a claimed delivery stays claimed: past it, a worker killed mid-send is assumed.
CLAIM_SECONDS = 60
MIN_SECRET_CHARACTERS = 16


def backoff_base_seconds() -> float:
    return float(getattr(settings, "PORTAL_NOTIFY_BACKOFF_SECONDS", 30))


def backoff_max_seconds() -> float:
    return float(getattr(settings, "PORTAL_NOTIFY_BACKOFF_MAX_SECONDS", 3600))


def backoff_delay(attempts: int) -> float:
    """How long to wait after the `attempts`-th failed attempt: base × 2^(attempts−1)."""
    return min(backoff_base_seconds() * 2 ** max(attempts - 1, 0), backoff_max_seconds())


def _audit(team: Team, actor, action: str, target, **details) -> None:
    audit_log(team=team, actor=actor, action=action, target=target, details=details)


# Channels


def url_hint(url: str) -> str:
    """The host of a webhook address and its last four characters: enough to tell two
    channels apart, never enough to use it."""
    parts = urlsplit(url)
    return f"{parts.hostname or '?'} …{url[-4:]}"


def webhook_url_check(url: str) -> str:
    """`url` if notifications may be posted to it, else `ServiceError` (field "url") saying
    why: the outbound guard's rules, the addresses checked after the name is resolved."""
    policy = webhook_outbound_policy()
    url = url.strip()
    try:
        policy.check_target_url(url)
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        policy.addresses_for(parts.hostname or "", port)
    except OutboundRefused as exc:
        raise ServiceError(exc.message, field="url") from exc
    except Exception as exc:  # a name that does not resolve: httpcore's ConnectError
        logger.info("webhook address %s not usable: %s", url_hint(url), exc)
        raise ServiceError("Could not reach the address.", field="url") from exc
    return url


def channel_create(
    *, team: Team, actor, name: str, kind: str, url: str = "", secret: str = ""
) -> NotificationChannel:
    require_role(team=team, user=actor, role=MANAGE_ROLE)
    name = name.strip()
    if NotificationChannel.objects.filter(team=team, name=name).exists():
        raise ServiceError("The team has a channel of this name already.", field="name")
    values: dict = {}
    if kind in NotificationChannel.WEBHOOK_KINDS:
        if not url:
            raise ServiceError("Give the address of the webhook.", field="url")
        url = webhook_url_check(url)
        values = {"url": url, "url_hint": url_hint(url)}
    if kind == NotificationChannel.Kind.WEBHOOK:
        if len(secret) < MIN_SECRET_CHARACTERS:
            raise ServiceError(
                f"A signing secret needs at least {MIN_SECRET_CHARACTERS} characters.",
                field="secret",
            )
        values["secret"] = secret
    with transaction.atomic():
        channel = NotificationChannel.objects.create(team=team, name=name, kind=kind, **values)
        _audit(
            team, actor, "notification_channel.create", channel, kind=kind, address=channel.url_hint
        )
    return channel


def _of_team(queryset, team: Team, pk: int, what: str):
    """The team's row `pk` of `queryset`; another team's, or none, is "No such …"."""
    found = queryset.filter(team=team, pk=pk).first()
    if found is None:
        raise ServiceError(f"No such {what}.")
    return found


def _channel(team: Team, channel_id: int) -> NotificationChannel:
    return _of_team(NotificationChannel.objects, team, channel_id, "channel")


def channel_delete(*, team: Team, actor, channel_id: int) -> NotificationChannel:
    require_role(team=team, user=actor, role=MANAGE_ROLE)
    channel = _channel(team, channel_id)
    with transaction.atomic():
        _audit(team, actor, "notification_channel.delete", channel, kind=channel.kind)
        channel.delete()
    return channel


@dataclass(frozen=True)
class SendResult:
    """How a receiver answered one message: `ok`, the status code and a short body, or the
    error that kept it from answering."""

    ok: bool
    status_code: int | None = None
    excerpt: str = ""
    error: str = ""
    retry_after: float | None = None

    @property
    def summary(self) -> str:
        if self.error:
            return self.error
        if self.status_code is None:
            return self.excerpt
        return f"HTTP {self.status_code}" + (f": {self.excerpt}" if self.excerpt else "")


def channel_test(*, team: Team, actor, channel_id: int) -> SendResult:
    """Send a test message now and answer how the receiver answered."""
    require_role(team=team, user=actor, role=MANAGE_ROLE)
    channel = _channel(team, channel_id)
    result = _send(channel, messages.trial_message(team))
    _audit(
        team,
        actor,
        "notification_channel.test",
        channel,
        ok=result.ok,
        status_code=result.status_code,
    )
    return result


# Rules


def rule_create(
    *,
    team: Team,
    actor,
    channel_id: int,
    event_kind: str,
    min_severity: str = "",
    **filters,
) -> NotificationRule:
    """A rule sending `event_kind` to the channel; `filters` are those of `rule_filters_check`."""
    require_role(team=team, user=actor, role=MANAGE_ROLE)
    channel = _channel(team, channel_id)
    if NotificationRule.objects.filter(channel=channel, event_kind=event_kind).exists():
        raise ServiceError("This channel has a rule for this event already.", field="event_kind")
    values, repositories = rule_filters_check(
        team=team, event_kind=event_kind, min_severity=min_severity, **filters
    )
    with transaction.atomic():
        rule = NotificationRule.objects.create(
            team=team, channel=channel, event_kind=event_kind, min_severity=min_severity, **values
        )
        rule.repositories.set(repositories)
        _audit(
            team,
            actor,
            "notification_rule.create",
            rule,
            channel=channel.name,
            event=event_kind,
            min_severity=min_severity,
            **rule_filters_described(rule, repositories),
        )
    return rule


def rule_filters_check(
    *,
    team: Team,
    event_kind: str,
    min_severity: str = "",
    repository_ids=(),
    scan_type: str = "",
    owner_squad_id: int | None = None,
    owner_membership_id: int | None = None,
    days: int | None = None,
    threshold_percent: int | None = None,
) -> tuple[dict, list[Repository]]:
    """The rule's filters checked: each must apply to the event (`RULE_FILTERS_OF_KIND`) and
    name the team's own repositories, squads and members. Answers the rule's field values
    and its repositories; `ServiceError` (with the field) for the first filter refused."""
    applies = RULE_FILTERS_OF_KIND.get(event_kind, frozenset())
    label = EventKind(event_kind).label if event_kind in EventKind.values else event_kind
    given = {
        "min_severity": bool(min_severity),
        "repositories": bool(repository_ids),
        "scan_type": bool(scan_type),
        "owner": bool(owner_squad_id or owner_membership_id),
        "days": days is not None,
        "threshold_percent": threshold_percent is not None,
    }
    for name, is_given in given.items():
        if is_given and name not in applies:
            field = "owner" if name == "owner" else name
            raise ServiceError(f"“{label}” events cannot be filtered this way.", field=field)
    repositories = list(Repository.objects.filter(team=team, pk__in=list(repository_ids)))
    if len(repositories) != len(set(repository_ids)):
        raise ServiceError("No such repository.", field="repositories")
    if owner_squad_id and owner_membership_id:
        raise ServiceError("Choose one owner: a squad or a member.", field="owner")
    if owner_squad_id and not Squad.objects.filter(team=team, pk=owner_squad_id).exists():
        raise ServiceError("No such squad.", field="owner")
    owner_member_id = None
    if owner_membership_id:
        owner_member_id = (
            Membership.objects.filter(team=team, pk=owner_membership_id)
            .values_list("user_id", flat=True)
            .first()
        )
        if owner_member_id is None:
            raise ServiceError("No such member.", field="owner")
    values: dict = {
        "scan_type": scan_type,
        "owner_squad_id": owner_squad_id,
        "owner_member_id": owner_member_id,
    }
    if days is not None:
        if not 1 <= days <= MAX_RULE_DAYS:
            raise ServiceError(f"Give between 1 and {MAX_RULE_DAYS} days.", field="days")
        values["days"] = days
    if threshold_percent is not None:
        if not 1 <= threshold_percent <= 99:
            raise ServiceError("Give a percentage between 1 and 99.", field="threshold_percent")
        values["threshold_percent"] = threshold_percent
    return values, repositories


def rule_filters_described(rule: NotificationRule, repositories: list[Repository]) -> dict:
    """The rule's filters for its audit entry, by name."""
    applies = RULE_FILTERS_OF_KIND.get(rule.event_kind, frozenset())
    described: dict = {}
    if repositories:
        described["repositories"] = sorted(repository.name for repository in repositories)
    if rule.scan_type:
        described["scan_type"] = rule.scan_type
    if rule.owner_squad_id:
        described["owner"] = f"@{rule.owner_squad.name}"
    if rule.owner_member_id:
        described["owner"] = f"@{rule.owner_member.get_username()}"
    if "days" in applies:
        described["days"] = rule.days
    if "threshold_percent" in applies:
        described["threshold_percent"] = rule.threshold_percent
    return described


def rule_delete(*, team: Team, actor, rule_id: int) -> NotificationRule:
    require_role(team=team, user=actor, role=MANAGE_ROLE)
    rule = _of_team(NotificationRule.objects.select_related("channel"), team, rule_id, "rule")
    with transaction.atomic():
        _audit(team, actor, "notification_rule.delete", rule)
        rule.delete()
    return rule


# Delivering


def delivery_redeliver(*, team: Team, actor, delivery_id: int) -> Delivery:
    """Send a delivery again from its first attempt, whatever became of it."""
    require_role(team=team, user=actor, role=MANAGE_ROLE)
    delivery = _of_team(Delivery.objects, team, delivery_id, "delivery")
    if delivery.state == Delivery.State.SENDING:
        raise ServiceError("This message is being sent right now.")
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(
            state=Delivery.State.PENDING, attempts=0, next_attempt_at=None, error=""
        )
        _audit(
            team, actor, "notification_delivery.redeliver", delivery, previous_state=delivery.state
        )
        transaction.on_commit(lambda: _queue([delivery.pk]))
    delivery.refresh_from_db()
    return delivery


def _queue(delivery_ids: list[int]) -> None:
    from triage.models.notifications import deliveries_queue

    deliveries_queue(delivery_ids)


@dataclass(frozen=True)
class AttemptOutcome:
    """What `delivery_attempt` did: "delivered", "retry" (in `countdown` seconds), "failed",
    or "skipped" (gone, already delivered, or claimed by another attempt)."""

    outcome: str
    countdown: float | None = None


def _claim(delivery_id: int) -> bool:
    now = timezone.now()
    sendable = Q(state__in=Delivery.SENDABLE_STATES) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    lapsed = Q(state=Delivery.State.SENDING, claimed_until__lt=now)
    return bool(
        Delivery.objects.filter(Q(pk=delivery_id) & (sendable | lapsed)).update(
            state=Delivery.State.SENDING,
            claimed_until=now + timedelta(seconds=claim_seconds()),
            attempts=F("attempts") + 1,
            last_attempt_at=now,
        )
    )


def claim_seconds() -> float:
    """`CLAIM_SECONDS` unless set; longer than a webhook's deadline, so a live sender's claim
    never lapses."""
    return float(getattr(settings, "PORTAL_NOTIFY_CLAIM_SECONDS", CLAIM_SECONDS))


def channel_rate_limit() -> int:
    return int(getattr(settings, "PORTAL_NOTIFY_CHANNEL_PER_MINUTE", 30))


def _rate_deferred(delivery_id: int) -> AttemptOutcome | None:
    """Past its channel's messages per minute, the delivery waits for the next minute
    (not counted as an attempt); None when it may go now."""
    channel_id = (
        Delivery.objects.filter(pk=delivery_id).values_list("channel_id", flat=True).first()
    )
    if channel_id is None or minute_count(f"notify:{channel_id}") <= channel_rate_limit():
        return None
    wait = seconds_to_next_minute() + 1
    Delivery.objects.filter(pk=delivery_id, state__in=Delivery.SENDABLE_STATES).update(
        next_attempt_at=timezone.now() + timedelta(seconds=wait)
    )
    return AttemptOutcome("retry", wait)


def delivery_attempt(*, delivery_id: int) -> AttemptOutcome:
    """Send one delivery once, if it is due, nobody else is sending it and its channel has
    not sent its messages of this minute."""
    deferred = _rate_deferred(delivery_id)
    if deferred is not None:
        return deferred
    if not _claim(delivery_id):
        return AttemptOutcome("skipped")
    delivery = Delivery.objects.select_related("notification", "channel", "team").get(
        pk=delivery_id
    )
    message = messages.message_of(delivery.notification, delivery.team)
    result = _send(delivery.channel, message, notification=delivery.notification)
    return _record(delivery, result)


def _record(delivery: Delivery, result: SendResult) -> AttemptOutcome:
    now = timezone.now()
    fields = {
        "status_code": result.status_code,
        "response_excerpt": result.excerpt[:300],
        "error": result.error[:500],
        "claimed_until": None,
    }
    channel = delivery.channel
    if result.ok:
        with transaction.atomic():
            Delivery.objects.filter(pk=delivery.pk).update(
                state=Delivery.State.DELIVERED, delivered_at=now, next_attempt_at=None, **fields
            )
            NotificationChannel.objects.filter(pk=channel.pk).update(
                consecutive_failures=0,
                state=NotificationChannel.State.ACTIVE,
                failing_since=None,
                last_error="",
            )
        return AttemptOutcome("delivered")
    failures = channel.consecutive_failures + 1
    channel_fields = {
        "consecutive_failures": F("consecutive_failures") + 1,
        "last_error": result.summary[:500],
    }
    if failures >= FAILING_AFTER and not channel.is_failing:
        channel_fields.update(state=NotificationChannel.State.FAILING, failing_since=now)
    if delivery.attempts >= MAX_ATTEMPTS:
        outcome = AttemptOutcome("failed")
        fields.update(state=Delivery.State.FAILED, next_attempt_at=None)
    else:
        countdown = max(backoff_delay(delivery.attempts), result.retry_after or 0)
        outcome = AttemptOutcome("retry", countdown)
        fields.update(
            state=Delivery.State.RETRYING, next_attempt_at=now + timedelta(seconds=countdown)
        )
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(**fields)
        NotificationChannel.objects.filter(pk=channel.pk).update(**channel_fields)
    logger.warning(
        "notification delivery %s to channel %s failed (attempt %s): %s",
        delivery.pk,
        channel.pk,
        delivery.attempts,
        result.summary,
    )
    return outcome


def deliveries_due() -> list[int]:
    """Deliveries waiting whose time has come, and those whose sender died mid-send: the
    sweep queues them again, so a lost message or a killed worker loses no notification."""
    now = timezone.now()
    due = Q(state__in=Delivery.SENDABLE_STATES) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    lapsed = Q(state=Delivery.State.SENDING, claimed_until__lt=now)
    return list(Delivery.objects.filter(due | lapsed).values_list("pk", flat=True)[:1000])


# Sending


def _send(
    channel: NotificationChannel,
    message: messages.Message,
    *,
    notification: Notification | None = None,
) -> SendResult:
    if channel.kind == NotificationChannel.Kind.EMAIL:
        return _send_email(channel, message)
    if channel.kind == NotificationChannel.Kind.SLACK:
        body = messages.encode(messages.slack_body(message))
        headers = {}
    elif channel.kind == NotificationChannel.Kind.TEAMS:
        body = messages.encode(messages.teams_body(message))
        headers = {}
    else:
        body = messages.encode(messages.webhook_body(message))
        timestamp = int(time.time())
        headers = {
            messages.EVENT_HEADER: message.event_kind,
            messages.ID_HEADER: message.uid,
            messages.TIMESTAMP_HEADER: str(timestamp),
            messages.SIGNATURE_HEADER: messages.signature(
                channel.secret.reveal() if channel.secret else "", timestamp, body
            ),
        }
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "TriagePortal-Notifications/1",
        **headers,
    }
    try:
        answer = post(
            channel.url.reveal() if channel.url else "",
            content=body,
            headers=headers,
            policy=webhook_outbound_policy(),
        )
    except (OutboundRefused, OutboundNoAnswer) as exc:
        logger.info("notification to channel %s not sent: %s", channel.pk, exc.detail)
        return SendResult(ok=False, error=exc.message)
    excerpt = answer.body[:200].decode("utf-8", errors="replace").strip()
    if 200 <= answer.status_code < 300:
        return SendResult(ok=True, status_code=answer.status_code, excerpt=excerpt)
    error = f"The receiver answered HTTP {answer.status_code}."
    if 300 <= answer.status_code < 400:
        error = (
            f"The receiver answered with a redirect (HTTP {answer.status_code}); "
            "redirects are not followed: give the final address."
        )
    return SendResult(
        ok=False,
        status_code=answer.status_code,
        excerpt=excerpt,
        error=error,
        retry_after=_retry_after(answer.headers.get("retry-after", ""))
        if answer.status_code == 429
        else None,
    )


def _retry_after(value: str) -> float | None:
    """Seconds from a `Retry-After` header (seconds or an HTTP date), at most an hour."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(value), 3600.0)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(max((when - timezone.now()).total_seconds(), 0.0), 3600.0)


def team_member_emails(team: Team) -> list[str]:
    return sorted(
        {
            email
            for email in Membership.objects.filter(team=team)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
            if email
        }
    )


def _send_email(channel: NotificationChannel, message: messages.Message) -> SendResult:
    recipients = team_member_emails(channel.team)
    if not recipients:
        return SendResult(ok=False, error="No member of the team has an email address.")
    recipients = immediate_recipients(channel.team, message.event_kind)
    if not recipients:
        return SendResult(ok=True, excerpt="Every member gets this event in a digest, or not.")
    subject, body = messages.email_text(message)
    try:
        # Members are told by blind copy: a message does not list who else is in the team.
        sent = EmailMessage(subject=subject, body=body, to=[], bcc=recipients).send()
    except (smtplib.SMTPException, OSError) as exc:
        logger.warning("notification email of channel %s failed: %s", channel.pk, exc)
        return SendResult(ok=False, error=f"The mail server did not take the email: {exc}"[:300])
    return SendResult(
        ok=bool(sent), excerpt=f"Sent to {len(recipients)} member{'s' * (len(recipients) != 1)}."
    )
