"""Quota use, from the readings syncs keep; the page never calls Kolega."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from django.db.models import Count, Q

from triage.kolega import QuotaBalance
from triage.models import Fix, KolegaConnection, PullRequest, SyncRun, Team
from triage.sync.quota import DETAILS_KEY as QUOTA_DETAILS_KEY
from triage.sync.quota import QUOTA_LABELS, QuotaMeter

QUOTA_COUNTERS = ("prs", "sast_scans", "deep_ai_scans")
# Syncs keep a reading every few minutes; one older than this is not shown as the balance,
# and the lookup (newest runs first) never walks further back than this.
QUOTA_READING_LOOKBACK = timedelta(days=2)


@dataclass(frozen=True)
class QuotaCounterUse(QuotaMeter):
    counter: str = ""


@dataclass(frozen=True)
class QuotaUse:
    """One organization's quota period as last read by a sync, and the fixes and pull requests
    the mirror holds from that period (both draw on the `prs` counter)."""

    connection: KolegaConnection
    now: datetime
    read_at: datetime | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    counters: list[QuotaCounterUse] = field(default_factory=list)
    fixes_started: int = 0
    pull_requests_opened: int = 0

    @property
    def current(self) -> bool:
        return self.period_end is not None and self.period_end > self.now

    @property
    def elapsed_percent(self) -> int | None:
        if self.period_start is None or self.period_end is None:
            return None
        length = (self.period_end - self.period_start).total_seconds()
        if length <= 0:
            return 100
        elapsed = (min(self.now, self.period_end) - self.period_start).total_seconds()
        return max(0, min(100, round(100 * elapsed / length)))


def _quota_reading(
    connection: KolegaConnection, now: datetime
) -> tuple[datetime, QuotaBalance] | None:
    details = (
        SyncRun.objects.filter(
            connection=connection,
            created_at__gte=now - QUOTA_READING_LOOKBACK,
            details__has_key=QUOTA_DETAILS_KEY,
        )
        .order_by("-created_at", "-id")
        .values_list("details", flat=True)
        .first()
    )
    if details is None:
        return None
    reading = details[QUOTA_DETAILS_KEY]
    try:
        balance = QuotaBalance.model_validate(reading["balance"])
        read_at = datetime.fromisoformat(reading["read_at"])
    except (KeyError, TypeError, ValueError):
        return None
    return read_at, balance


def quota_use(*, team: Team, now: datetime) -> list[QuotaUse]:
    """Each connection's last quota reading with the fixes and pull requests of its period.

    The quota is the organization's: these figures do not follow the report's period or
    repository filter but the quota's own period.
    """
    uses = []
    for connection in KolegaConnection.objects.filter(team=team).order_by("name", "id"):
        reading = _quota_reading(connection, now)
        if reading is None:
            uses.append(QuotaUse(connection=connection, now=now))
            continue
        read_at, balance = reading
        uses.append(
            QuotaUse(
                connection=connection,
                now=now,
                read_at=read_at,
                period_start=balance.period_start,
                period_end=balance.period_end,
                counters=[
                    QuotaCounterUse(
                        counter=name,
                        label=QUOTA_LABELS.get(name, name),
                        used=getattr(balance, name).used,
                        total=getattr(balance, name).plan + getattr(balance, name).topup,
                        remaining=getattr(balance, name).remaining,
                    )
                    for name in QUOTA_COUNTERS
                ],
            )
        )
    periods = {use.connection.pk: use for use in uses if use.period_start is not None}
    if periods:
        fixes = Fix.objects.filter(team=team).aggregate(
            **{f"c{pk}": Count("id", filter=_in_quota_period(use)) for pk, use in periods.items()}
        )
        pull_requests = PullRequest.objects.filter(team=team).aggregate(
            **{f"c{pk}": Count("id", filter=_in_quota_period(use)) for pk, use in periods.items()}
        )
        uses = [
            replace(
                use,
                fixes_started=fixes[f"c{use.connection.pk}"],
                pull_requests_opened=pull_requests[f"c{use.connection.pk}"],
            )
            if use.connection.pk in periods
            else use
            for use in uses
        ]
    return uses


def _in_quota_period(use: QuotaUse) -> Q:
    return Q(
        connection_id=use.connection.pk,
        created_at__gte=use.period_start,
        created_at__lt=min(use.period_end, use.now),
    )
