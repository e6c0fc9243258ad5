"""Read side of sync health: what the Settings "Sync" page and freshness notices show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import QuerySet
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
