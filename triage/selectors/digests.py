"""Read side of email preferences and digests: who wants which email, the periods a digest
covers, and the report's headline figures of a period beside the previous one.

The figures are the report page's own (`triage.selectors.reports`): open findings by severity
at the end of the period (the daily snapshots), new and resolved in it (the trends), past the
SLA at its end (`sla_summary` seen from that moment, as every report selector computes a past
moment: of the findings open now), and the fix funnel of the fixes started in it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from triage.models import (
    Cadence,
    DigestSubscription,
    EmailChoice,
    EmailPreference,
    EventKind,
    Membership,
    Notification,
    NotificationChannel,
    ReportSnapshotState,
    Team,
)
from triage.models.reports import SEVERITIES
from triage.selectors import reports as report_selectors
from triage.selectors.reports import ReportScope

PERIOD_DAYS = {Cadence.DAILY: 1, Cadence.WEEKLY: 7}


# Preferences


def email_choices_of(user) -> dict[str, str]:
    """The member's choice for every event kind; kinds never chosen are immediate."""
    chosen = dict(EmailPreference.objects.filter(user=user).values_list("event_kind", "choice"))
    return {kind: chosen.get(kind, EmailChoice.IMMEDIATE) for kind in EventKind.values}


def digest_subscription_of(user) -> DigestSubscription:
    """The member's digests (an unsaved row with none while they never chose)."""
    return DigestSubscription.objects.filter(user=user).first() or DigestSubscription(user=user)


def immediate_recipients(team: Team, event_kind: str) -> list[str]:
    """The addresses of the team's members who want `event_kind` by email at once: all but
    those who chose the daily digest or off for it."""
    not_now = EmailPreference.objects.filter(event_kind=event_kind).exclude(
        choice=EmailChoice.IMMEDIATE
    )
    emails = (
        Membership.objects.filter(team=team)
        .exclude(user__email="")
        .exclude(user_id__in=not_now.values("user_id"))
        .values_list("user__email", flat=True)
    )
    return sorted({email for email in emails if email})


def digest_recipients(cadence: str) -> list[int]:
    """Members (with an email address and a team) due a digest of `cadence`: those
    subscribed to it and, daily, those who chose the daily digest for an event kind."""
    if cadence == Cadence.WEEKLY:
        wanted = Q(digest_subscription__weekly=True)
    else:
        daily_events = EmailPreference.objects.filter(choice=EmailChoice.DAILY).values("user_id")
        wanted = Q(digest_subscription__daily=True) | Q(pk__in=daily_events)
    members = Membership.objects.values("user_id")
    return list(
        get_user_model()
        .objects.filter(wanted, is_active=True, pk__in=members)
        .exclude(email="")
        .order_by("pk")
        .values_list("pk", flat=True)
        .distinct()
    )


# Periods


def digest_period(cadence: str, now: datetime) -> tuple[date, date]:
    """The last complete period before `now`: yesterday (UTC), or the seven days to it."""
    last_day = report_selectors.utc_today(now) - timedelta(days=1)
    return last_day - timedelta(days=PERIOD_DAYS[cadence] - 1), last_day


def previous_period(first_day: date, last_day: date) -> tuple[date, date]:
    length = (last_day - first_day).days + 1
    return first_day - timedelta(days=length), first_day - timedelta(days=1)


# Figures


@dataclass(frozen=True)
class PeriodFigures:
    """The report's headline figures of one period."""

    first_day: date
    last_day: date
    open_by_severity: dict[str, int]
    new: int
    resolved: int
    past_sla: int
    fixes_started: int
    pull_requests_opened: int
    pull_requests_merged: int

    @property
    def open_total(self) -> int:
        return sum(self.open_by_severity.values())


@dataclass(frozen=True)
class Change:
    """One figure now and in the previous period; `up_is_good` picks the colour of a rise."""

    label: str
    now: int
    before: int
    up_is_good: bool = False

    @property
    def delta(self) -> int:
        return self.now - self.before

    @property
    def arrow(self) -> str:
        return "▲" if self.delta > 0 else "▼" if self.delta < 0 else "="

    @property
    def delta_text(self) -> str:
        """ "▲ 3", "▼ 2" or "= 0"."""
        return f"{self.arrow} {abs(self.delta):,}"

    @property
    def better(self) -> bool | None:
        """Whether the change is good news (None when nothing changed)."""
        if self.delta == 0:
            return None
        return (self.delta > 0) == self.up_is_good


@dataclass(frozen=True)
class TeamDigest:
    team: Team
    current: PeriodFigures
    previous: PeriodFigures

    @property
    def open_changes(self) -> list[Change]:
        return [
            Change(
                str(severity.label),
                self.current.open_by_severity.get(severity, 0),
                self.previous.open_by_severity.get(severity, 0),
            )
            for severity in SEVERITIES
        ]

    @property
    def changes(self) -> list[Change]:
        now, before = self.current, self.previous
        return [
            Change("Open findings", now.open_total, before.open_total),
            Change("New findings", now.new, before.new),
            Change("Resolved findings", now.resolved, before.resolved, up_is_good=True),
            Change("Past the SLA", now.past_sla, before.past_sla),
            Change("Fixes started", now.fixes_started, before.fixes_started, up_is_good=True),
            Change(
                "Pull requests opened",
                now.pull_requests_opened,
                before.pull_requests_opened,
                up_is_good=True,
            ),
            Change(
                "Pull requests merged",
                now.pull_requests_merged,
                before.pull_requests_merged,
                up_is_good=True,
            ),
        ]


def period_figures(*, team: Team, first_day: date, last_day: date, now: datetime) -> PeriodFigures:
    """The report's headline figures of the team over `first_day`..`last_day`, as the report
    page computes them for that period."""
    scope = ReportScope(team=team, first_day=first_day, last_day=last_day, now=now)
    at_end = ReportScope(team=team, first_day=first_day, last_day=last_day, now=scope.end)
    state = ReportSnapshotState.objects.filter(team=team).first()
    rebuilt_at = state.rebuilt_at if state is not None else None
    trend = report_selectors.trends(
        scope=scope,
        mirror_from=report_selectors.utc_today(rebuilt_at) if rebuilt_at else first_day,
    )
    if report_selectors.utc_today(now) <= last_day:
        trend = trend.with_open_on(last_day, report_selectors.open_by_severity(scope=scope))
    policy = report_selectors.sla_policy_of(team)
    funnel = report_selectors.fix_funnel(scope=scope)
    return PeriodFigures(
        first_day=first_day,
        last_day=last_day,
        open_by_severity={s: trend.days[-1].open_by_severity.get(s, 0) for s in SEVERITIES},
        new=trend.new,
        resolved=trend.resolved,
        past_sla=sum(
            row.breached for row in report_selectors.sla_summary(scope=at_end, policy=policy)
        ),
        fixes_started=funnel.started,
        pull_requests_opened=funnel.pull_requests_opened,
        pull_requests_merged=funnel.merged,
    )


def team_digest(*, team: Team, first_day: date, last_day: date, now: datetime) -> TeamDigest:
    before_first, before_last = previous_period(first_day, last_day)
    return TeamDigest(
        team=team,
        current=period_figures(team=team, first_day=first_day, last_day=last_day, now=now),
        previous=period_figures(team=team, first_day=before_first, last_day=before_last, now=now),
    )


def member_teams(user) -> list[Team]:
    """The teams the member is in now (a member who left gets nothing of that team)."""
    return list(Team.objects.filter(memberships__user=user).order_by("name", "id"))


def digest_events(
    *, user, teams: Iterable[Team], first_day: date, last_day: date
) -> QuerySet[Notification]:
    """The events of the period the member's teams emailed and the member chose to get in the
    daily digest, oldest first."""
    daily_kinds = [
        kind for kind, choice in email_choices_of(user).items() if choice == EmailChoice.DAILY
    ]
    start = datetime.combine(first_day, datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    return (
        Notification.objects.filter(
            team__in=list(teams),
            event_kind__in=daily_kinds,
            created_at__gte=start,
            created_at__lt=end,
            deliveries__channel__kind=NotificationChannel.Kind.EMAIL,
        )
        .select_related("team")
        .distinct()
        .order_by("team__name", "created_at", "id")
    )
