"""Email preferences and digests: a member's choices, and the daily and weekly digest emails.

A digest tells a member, for each of their teams, the report's headline figures of the period
beside the previous period's, and (daily) the events they chose to get in the digest rather
than at once. Beat queues one `send_digest` task per member (`digests_queue`); each claims its
`DigestSend` row (unique per member, cadence and period) before the email goes, so a retried or
duplicated task sends once. A worker killed mid-send leaves a claim that lapses after
`CLAIM_SECONDS`; the next task for the same digest takes it over.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from triage.models import (
    Cadence,
    DigestSend,
    DigestSubscription,
    EmailChoice,
    EmailPreference,
    EventKind,
    ReportSnapshotState,
    Team,
)
from triage.selectors import digests as selectors
from triage.services import notification_messages as messages
from triage.services.audit import audit_log
from triage.services.errors import ServiceError
from triage.services.reports import report_snapshots_rebuild
from triage.task_queue import TaskName, task_send

logger = logging.getLogger("triage.notifications")

CLAIM_SECONDS = 120
# "Send me one now": once a minute per member, a few an hour.
SEND_NOW_EVERY_SECONDS = 60
SEND_NOW_PER_HOUR = 5
FIGURES_KEEP_SECONDS = 3600


# Preferences


def email_preferences_set(
    *, user, choices: dict[str, str], daily: bool, weekly: bool
) -> DigestSubscription:
    """Save the member's email choice per event kind and their digests; audit-logged with
    what changed."""
    for kind, choice in choices.items():
        if kind not in EventKind.values or choice not in EmailChoice.values:
            raise ServiceError("Unknown event or choice.")
    before = selectors.email_choices_of(user)
    with transaction.atomic():
        for kind, choice in choices.items():
            if before.get(kind) != choice:
                EmailPreference.objects.update_or_create(
                    user=user, event_kind=kind, defaults={"choice": choice}
                )
        subscription, _ = DigestSubscription.objects.select_for_update().get_or_create(user=user)
        previous = {"daily": subscription.daily, "weekly": subscription.weekly}
        subscription.daily, subscription.weekly = daily, weekly
        subscription.save()
        audit_log(
            team=None,
            actor=user,
            action="email_preferences.update",
            target=user,
            details={
                "changed": {k: v for k, v in choices.items() if before.get(k) != v},
                "digests_before": previous,
                "digests": {"daily": daily, "weekly": weekly},
            },
        )
    return subscription


# Figures


def _figures(team: Team, first_day: date, last_day: date, now: datetime):
    """The team's digest figures, computed once for all its members. The snapshots the trends
    read are rebuilt first (a replay of the team's events) only when the last rebuild was
    before the period ended; the nightly one, before the digests go, has all of it."""
    key = f"digests:figures:{team.pk}:{team.created_at.timestamp()}:{first_day}:{last_day}"
    found = cache.get(key)
    if found is not None:
        return found
    state = ReportSnapshotState.objects.filter(team=team).first()
    if state is None or state.rebuilt_at is None or state.rebuilt_at.date() <= last_day:
        report_snapshots_rebuild(team=team, now=now)
    figures = selectors.team_digest(team=team, first_day=first_day, last_day=last_day, now=now)
    cache.set(key, figures, FIGURES_KEEP_SECONDS)
    return figures


# Sending


def _absolute(path: str) -> str:
    return f"{settings.PORTAL_BASE_URL}{path}"


def digest_email(
    *,
    user,
    cadence: str,
    period: tuple[date, date],
    now: datetime,
    with_figures: bool | None = None,
) -> EmailMultiAlternatives | None:
    """The digest email of the member, or None when it would say nothing (no team; or only
    daily events asked for and none happened). The figures are in it when the member
    subscribed to the digest of `cadence`, or when `with_figures` says so. `period`: its
    first and last UTC days."""
    first_day, last_day = period
    teams = selectors.member_teams(user)
    if not teams:
        return None
    if with_figures is None:
        with_figures = cadence in selectors.digest_subscription_of(user).cadences
    events = []
    if cadence == Cadence.DAILY:
        events = [
            messages.message_of(notification, notification.team)
            for notification in selectors.digest_events(
                user=user, teams=teams, first_day=first_day, last_day=last_day
            )
        ]
    if not with_figures and not events:
        return None
    digests = [_figures(team, first_day, last_day, now) for team in teams] if with_figures else []
    label = Cadence(cadence).label
    period = (
        f"{first_day:%a %d %b %Y}"
        if first_day == last_day
        else f"{first_day:%d %b} – {last_day:%d %b %Y}"
    )
    context = {
        "user": user,
        "cadence_label": label,
        "period": period,
        "previous_label": "the day before" if cadence == Cadence.DAILY else "the week before",
        "digests": [
            {
                "digest": digest,
                "report_url": messages.team_url(
                    digest.team,
                    "reports",
                    {"start": first_day.isoformat(), "end": last_day.isoformat()},
                ),
            }
            for digest in digests
        ],
        "events": events,
        "preferences_url": _absolute(reverse("email-preferences")),
        "site_url": settings.PORTAL_BASE_URL,
    }
    subject = f"Triage Portal {label.lower()} digest, {period}"
    email = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("triage/emails/digest.txt", context),
        to=[user.email],
    )
    email.attach_alternative(render_to_string("triage/emails/digest.html", context), "text/html")
    return email


def _claimed_row(
    user_id: int, cadence: str, period: tuple[date, date], *, now: datetime, on_request=False
) -> DigestSend:
    """A new digest row, claimed by its sender from `now`."""
    return DigestSend.objects.create(
        user_id=user_id,
        cadence=cadence,
        first_day=period[0],
        last_day=period[1],
        on_request=on_request,
        claimed_until=now + timedelta(seconds=CLAIM_SECONDS),
        attempts=1,
    )


def _claim_scheduled(user_id: int, cadence: str, first_day: date, last_day: date) -> int | None:
    """The scheduled digest's row, claimed for this sender; None when it was sent, or another
    sender holds a claim that has not lapsed."""
    now = timezone.now()
    until = now + timedelta(seconds=CLAIM_SECONDS)
    try:
        with transaction.atomic():
            return _claimed_row(user_id, cadence, (first_day, last_day), now=now).pk
    except IntegrityError:
        pass
    lapsed = Q(state=DigestSend.State.SENDING, claimed_until__lt=now) | Q(
        state=DigestSend.State.FAILED
    )
    row = DigestSend.objects.filter(
        user_id=user_id, cadence=cadence, first_day=first_day, on_request=False
    ).first()
    if row is None:
        return None
    taken = DigestSend.objects.filter(Q(pk=row.pk) & lapsed).update(
        state=DigestSend.State.SENDING, claimed_until=until, attempts=F("attempts") + 1
    )
    return row.pk if taken else None


def _send(row_id: int, email: EmailMultiAlternatives | None) -> str:
    if email is None:
        DigestSend.objects.filter(pk=row_id).update(
            state=DigestSend.State.SENT, claimed_until=None, error="nothing to tell"
        )
        return "empty"
    try:
        email.send()
    except (smtplib.SMTPException, OSError) as exc:
        logger.warning("digest %s not sent: %s", row_id, exc)
        DigestSend.objects.filter(pk=row_id).update(
            state=DigestSend.State.FAILED,
            claimed_until=None,
            error=f"The mail server did not take the email: {exc}"[:500],
        )
        return "failed"
    DigestSend.objects.filter(pk=row_id).update(
        state=DigestSend.State.SENT, claimed_until=None, sent_at=timezone.now(), error=""
    )
    return "sent"


def digest_send(*, user_id: int, cadence: str, first_day: date, now: datetime | None = None) -> str:
    """Send the scheduled digest of `cadence` whose period starts `first_day` to the member,
    once: "sent", "empty" (nothing to tell), "failed", or "skipped" (sent already, or being
    sent)."""
    now = now or timezone.now()
    last_day = first_day + timedelta(days=selectors.PERIOD_DAYS[cadence] - 1)
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.email:
        return "skipped"
    row_id = _claim_scheduled(user_id, cadence, first_day, last_day)
    if row_id is None:
        return "skipped"
    email = digest_email(user=user, cadence=cadence, period=(first_day, last_day), now=now)
    return _send(row_id, email)


def digests_queue(*, cadence: str, now: datetime | None = None) -> int:
    """Beat: queue the digest of the last complete period for every member due one."""
    first_day, _ = selectors.digest_period(cadence, now or timezone.now())
    recipients = selectors.digest_recipients(cadence)
    for user_id in recipients:
        task_send(TaskName.SEND_DIGEST, user_id, cadence, first_day.isoformat())
    return len(recipients)


def digest_send_now(*, user, cadence: str) -> str:
    """ "Send me one now": the digest of the last complete period, to the member at once, as
    their preferences make it (figures even when not subscribed). Audit-logged; at most once a
    minute and `SEND_NOW_PER_HOUR` an hour per member."""
    if cadence not in Cadence.values:
        raise ServiceError("Choose the daily or the weekly digest.", field="cadence")
    if not user.email:
        raise ServiceError("Your account has no email address to send the digest to.")
    if not selectors.member_teams(user):
        raise ServiceError("You are not in a team yet: a digest would be empty.")
    if not cache.add(f"digests:now:{user.pk}", 1, SEND_NOW_EVERY_SECONDS):
        raise ServiceError("A digest was sent to you a moment ago; try again in a minute.")
    hour_key = f"digests:now-hour:{user.pk}:{int(timezone.now().timestamp() // 3600)}"
    cache.add(hour_key, 0, 3700)
    if cache.incr(hour_key) > SEND_NOW_PER_HOUR:
        raise ServiceError(f"At most {SEND_NOW_PER_HOUR} digests an hour; try again later.")
    now = timezone.now()
    first_day, last_day = selectors.digest_period(cadence, now)
    with transaction.atomic():
        row = _claimed_row(user.pk, cadence, (first_day, last_day), now=now, on_request=True)
        audit_log(
            team=None,
            actor=user,
            action="digest.send_now",
            target=row,
            details={"cadence": cadence, "first_day": first_day.isoformat()},
        )
    # Trying it out: the figures, whether or not the member subscribed yet.
    period = (first_day, last_day)
    email = digest_email(user=user, cadence=cadence, period=period, now=now, with_figures=True)
    outcome = _send(row.pk, email)
    if outcome == "failed":
        raise ServiceError("The mail server did not take the digest; try again later.")
    return outcome
