"""Read side of sync health: what the Settings "Sync" page and freshness notices show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Max, QuerySet
from django.utils import timezone

from triage.models import KolegaConnection, SyncRun, SyncState, Team


@dataclass(frozen=True)
class ConnectionSyncHealth:
    connection: KolegaConnection
    state: SyncState | None
    last_run: SyncRun | None
    active_run: SyncRun | None

    @property
    def last_success_at(self) -> datetime | None:
        return self.state.last_success_at if self.state else None

    @property
    def lag(self) -> timedelta | None:
        """How far the mirror may be behind Kolega: the time since the last good sync."""
        if self.last_success_at is None:
            return None
        return timezone.now() - self.last_success_at

    @property
    def last_error(self) -> str:
        return self.state.last_error if self.state else ""

    @property
    def last_error_at(self) -> datetime | None:
        return self.state.last_error_at if self.state else None

    @property
    def failing(self) -> bool:
        return bool(self.state and self.state.consecutive_failures)

    @property
    def next_attempt_at(self) -> datetime | None:
        return self.state.next_attempt_at if self.state else None


def connection_sync_health_list(*, team: Team) -> list[ConnectionSyncHealth]:
    connections = list(KolegaConnection.objects.filter(team=team))
    states = {
        state.connection_id: state for state in SyncState.objects.filter(connection__in=connections)
    }
    health = []
    for connection in connections:
        runs = SyncRun.objects.filter(connection=connection).exclude(status=SyncRun.Status.SKIPPED)
        health.append(
            ConnectionSyncHealth(
                connection=connection,
                state=states.get(connection.pk),
                last_run=runs.first(),
                active_run=runs.filter(status__in=SyncRun.ACTIVE_STATUSES).first(),
            )
        )
    return health


def sync_runs_recent(*, team: Team, limit: int = 20) -> QuerySet[SyncRun]:
    return SyncRun.objects.filter(team=team).select_related("connection", "requested_by")[:limit]


def sync_run_get(*, team: Team, run_id: int) -> SyncRun | None:
    return SyncRun.objects.filter(team=team, pk=run_id).select_related("connection").first()


def team_last_synced_at(*, team: Team) -> datetime | None:
    """When a sync of one of the team's connections last succeeded: what pages show as
    "data as of"."""
    return SyncState.objects.filter(connection__team=team).aggregate(at=Max("last_success_at"))[
        "at"
    ]


def team_sync_marks(*, team: Team) -> tuple[datetime | None, datetime | None]:
    """`team_last_synced_at`, and the newest moment before which the team's finding events
    were pruned (None: all kept), in one query."""
    row = SyncState.objects.filter(connection__team=team).aggregate(
        at=Max("last_success_at"), pruned=Max("events_pruned_before")
    )
    return row["at"], row["pruned"]


def mirror_freshness(*, team: Team) -> datetime | None:
    """When the team's mirror was last known equal to Kolega: the oldest last success among
    its active connections (None when one was never synced). Pages show it as "data as of"."""
    states = list(
        SyncState.objects.filter(
            connection__team=team, connection__state=KolegaConnection.State.ACTIVE
        ).values_list("last_success_at", flat=True)
    )
    active = KolegaConnection.objects.filter(team=team, state=KolegaConnection.State.ACTIVE)
    if not states or len(states) < active.count() or any(value is None for value in states):
        return None
    return min(states)


@dataclass(frozen=True)
class StaleConnection:
    name: str
    last_success_at: datetime | None
    last_error: str
    failing: bool


def mirror_stale_after() -> timedelta:
    """How long without a successful sync before pages say the data may be stale (ten
    scheduled syncs, and at least ten minutes)."""
    default = max(600, 10 * int(getattr(settings, "PORTAL_SYNC_INTERVAL_SECONDS", 60)))
    return timedelta(seconds=int(getattr(settings, "PORTAL_MIRROR_STALE_SECONDS", default)))


@dataclass(frozen=True)
class TeamConnections:
    """A team's connections as every list page shows them: whether there is one (the empty
    state), `team_last_synced_at` ("data as of") and `mirror_stale_connections`."""

    exist: bool
    synced_at: datetime | None
    stale: list[StaleConnection]


def team_connections(*, team_id: int) -> TeamConnections:
    """The team's connections, in one query."""
    rows = list(
        KolegaConnection.objects.filter(team_id=team_id)
        .order_by("name", "pk")
        .values_list(
            "name",
            "state",
            "sync_state__last_success_at",
            "sync_state__last_error",
            "sync_state__last_error_at",
        )
    )
    old = timezone.now() - mirror_stale_after()
    stale = []
    for name, state, last_success_at, last_error, last_error_at in rows:
        if state != KolegaConnection.State.ACTIVE:
            continue
        failing = bool(last_error_at) and (
            last_success_at is None or last_error_at > last_success_at
        )
        if failing or (last_success_at is not None and last_success_at < old):
            stale.append(StaleConnection(name, last_success_at, last_error or "", failing))
    synced = [row[2] for row in rows if row[2] is not None]
    return TeamConnections(bool(rows), max(synced, default=None), stale)


def mirror_stale_connections(*, team_id: int) -> list[StaleConnection]:
    """The team's active connections whose mirror may be behind Kolega: the last sync failed
    (Kolega unreachable, a server error, ...) after the last success, or no sync has
    succeeded for longer than `mirror_stale_after`. A connection whose first sync has not
    run yet is not listed (the dashboard follows that sync)."""
    return team_connections(team_id=team_id).stale
