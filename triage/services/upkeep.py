"""Database upkeep: the finding events and sync runs older than their retention are deleted.

Nightly (`tasks.prune_history`), in batches of `PORTAL_PRUNE_BATCH_SIZE` rows, each its own
short transaction, so memory stays flat and no giant DELETE holds locks or bloats the write
log. A finding's events are folded into its baseline (`FindingEventBaseline`: the status and
severity they had made of it) in the transaction that deletes them, so the reports replay the
remaining events from there and every day from the first one kept counts as before.

Each batch of a connection's events runs under the connection's sync lease: no sync writes
events of that connection meanwhile, and a second pruning run waits its turn instead of
folding the same events twice. The horizon is kept on the connection's `SyncState`, and a sync
never writes an event older than it again (`rows.finding_events_write`). The latest sync run
of each connection is kept whatever its age: pages show it as the last sync.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as day_time

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from triage.models import (
    Finding,
    FindingEvent,
    FindingEventBaseline,
    KolegaConnection,
    SyncRun,
    SyncState,
    Team,
)
from triage.models.audit import SYSTEM
from triage.reports.replay import state_after_event, utc_day
from triage.services.audit import audit_log
from triage.sync import rows
from triage.sync.counts import finding_counts_compact
from triage.sync.lease import lease_acquire, lease_release

logger = logging.getLogger("triage.upkeep")

# How long a batch waits for a sync of its connection to finish, before the connection is
# left for the next night.
LEASE_WAIT_SECONDS = 60
LEASE_POLL_SECONDS = 0.5


@dataclass
class PruneResult:
    events_before: datetime | None = None
    sync_runs_before: datetime | None = None
    # Per team: {"finding_events": n, "sync_runs": m}.
    deleted: dict[int, Counter[str]] = field(default_factory=dict)
    # Connections whose sync held the lease too long: their events wait for the next run.
    connections_busy: list[int] = field(default_factory=list)
    analyzed: bool = False
    counts_folded: int = 0

    def count(self, team_id: int, kind: str, n: int) -> None:
        self.deleted.setdefault(team_id, Counter())[kind] += n

    @property
    def totals(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for counts in self.deleted.values():
            total.update(counts)
        return total


def retention_cutoff(*, days: int, now: datetime) -> datetime | None:
    """The start of the first UTC day kept by a retention of `days` (0: keep everything).
    Whole days, so the first day kept has all its events."""
    if days <= 0:
        return None
    first_kept = utc_day(now) - timedelta(days=days)
    return datetime.combine(first_kept, day_time.min, tzinfo=UTC)


def history_prune(*, now: datetime | None = None) -> PruneResult:
    """Delete the finding events and sync runs older than their retention settings; record
    what was deleted per team (audit log) and in the log; ANALYZE the tables after a big one."""
    now = now or timezone.now()
    result = PruneResult(
        events_before=retention_cutoff(days=settings.PORTAL_EVENTS_RETENTION_DAYS, now=now),
        sync_runs_before=retention_cutoff(days=settings.PORTAL_SYNC_RUNS_RETENTION_DAYS, now=now),
    )
    if result.events_before is not None:
        for connection in KolegaConnection.objects.order_by("pk"):
            deleted = connection_events_prune(connection=connection, before=result.events_before)
            if deleted is None:
                result.connections_busy.append(connection.pk)
                logger.warning(
                    "events of connection %s not pruned: its sync held the lease", connection.pk
                )
                continue
            if deleted:
                result.count(connection.team_id, "finding_events", deleted)
    if result.sync_runs_before is not None:
        for team_id, deleted in sync_runs_prune(before=result.sync_runs_before).items():
            result.count(team_id, "sync_runs", deleted)
    _record(result)
    result.analyzed = rows.statistics_refresh_after(result.totals)
    # Status changes and deletions of the day left rows of changes in the finding counts.
    result.counts_folded = finding_counts_compact()
    return result


def connection_events_prune(*, connection: KolegaConnection, before: datetime) -> int | None:
    """Fold and delete the connection's events older than its horizon: `before`, or a later
    one an earlier run set (the horizon never moves back). Answers how many were deleted, or
    None when its syncs kept the lease too long for the horizon to be set."""
    owner = f"prune-{uuid.uuid4().hex}"
    with _leased(connection, owner) as leased:
        if not leased:
            return None
        # The horizon moves first: from now on no sync writes an event older than it.
        SyncState.objects.filter(connection=connection).filter(
            Q(events_pruned_before__isnull=True) | Q(events_pruned_before__lt=before)
        ).update(events_pruned_before=before)
        horizon = SyncState.objects.get(connection=connection).events_pruned_before
    deleted = 0
    after = ""
    while True:
        with _leased(connection, owner) as leased:
            if not leased:
                return deleted
            with transaction.atomic():
                batch = _events_batch(connection=connection, horizon=horizon, after=after)
                if not batch:
                    return deleted
                _fold(connection=connection, batch=batch, horizon=horizon)
                deleted += FindingEvent.objects.filter(pk__in=[row[0] for row in batch]).delete()[0]
        # A finding's events may go on in the next batch: start there again.
        after = batch[-1][1]


def _events_batch(*, connection: KolegaConnection, horizon: datetime, after: str) -> list[tuple]:
    """The next events to prune, each finding's in the order they happened (keyset on the
    finding's id, so each batch starts where the last one stopped in the index)."""
    return list(
        FindingEvent.objects.filter(
            connection=connection, finding_upstream_id__gte=after, event_timestamp__lt=horizon
        )
        .order_by("finding_upstream_id", "event_timestamp", "id")
        .values_list("pk", "finding_upstream_id", "event_type", "new_status", "severity")[
            : settings.PORTAL_PRUNE_BATCH_SIZE
        ]
    )


def _fold(*, connection: KolegaConnection, batch: list[tuple], horizon: datetime) -> None:
    """Carry each finding's baseline over the batch's events (as the replay would)."""
    finding_ids = {row[1] for row in batch}
    states: dict[str, tuple[str | None, str | None]] = {
        finding_id: (status, severity)
        for finding_id, status, severity in FindingEventBaseline.objects.filter(
            connection=connection, finding_upstream_id__in=finding_ids
        ).values_list("finding_upstream_id", "status", "severity")
    }
    # A finding's first events may carry no severity: its own stands in, as in the replay.
    fallback = dict(
        Finding.objects.filter(connection=connection, upstream_id__in=finding_ids).values_list(
            "upstream_id", "severity"
        )
    )
    for _pk, finding_id, event_type, new_status, severity in batch:
        status, current = states.get(finding_id, (None, fallback.get(finding_id)))
        states[finding_id] = state_after_event(
            event_type=event_type,
            new_status=new_status,
            event_severity=severity,
            status=status,
            severity=current,
        )
    FindingEventBaseline.objects.bulk_create(
        [
            FindingEventBaseline(
                connection=connection,
                team_id=connection.team_id,
                finding_upstream_id=finding_id,
                status=status,
                severity=severity,
                as_of=horizon,
            )
            for finding_id, (status, severity) in states.items()
        ],
        update_conflicts=True,
        unique_fields=["connection", "finding_upstream_id"],
        update_fields=["status", "severity", "as_of"],
    )


@contextmanager
def _leased(connection: KolegaConnection, owner: str) -> Iterator[bool]:
    """The connection's sync lease for one step, waiting up to LEASE_WAIT_SECONDS for a sync
    to finish; yields whether it was taken."""
    deadline = time.monotonic() + LEASE_WAIT_SECONDS
    while not (taken := lease_acquire(connection=connection, owner=owner)):
        if time.monotonic() >= deadline:
            break
        time.sleep(LEASE_POLL_SECONDS)
    try:
        yield taken
    finally:
        if taken:
            lease_release(connection=connection, owner=owner)


def sync_runs_prune(*, before: datetime) -> Counter[int]:
    """Delete finished sync runs created before `before`, batch by batch, keeping each
    connection's latest run and its latest run that did not skip (the last sync pages show).
    Answers the runs deleted per team."""
    keep = set(_latest_runs())
    deleted: Counter[int] = Counter()
    for batch in _old_runs(before=before, keep=keep):
        with transaction.atomic():
            for team_id in (
                SyncRun.objects.filter(pk__in=batch).values_list("team_id", flat=True).iterator()
            ):
                deleted[team_id] += 1
            SyncRun.objects.filter(pk__in=batch).delete()
    return deleted


def _latest_runs() -> Iterator[int]:
    for connection_id in KolegaConnection.objects.values_list("pk", flat=True):
        runs = SyncRun.objects.filter(connection_id=connection_id).order_by("-created_at", "-id")
        yield from runs.values_list("pk", flat=True)[:1]
        not_skipped = runs.exclude(status=SyncRun.Status.SKIPPED)
        yield from not_skipped.values_list("pk", flat=True)[:1]


def _old_runs(*, before: datetime, keep: set[int]) -> Iterator[list[int]]:
    old = (
        SyncRun.objects.filter(created_at__lt=before)
        .exclude(status__in=SyncRun.ACTIVE_STATUSES)
        .exclude(pk__in=keep)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    after = 0
    while batch := list(old.filter(pk__gt=after)[: settings.PORTAL_PRUNE_BATCH_SIZE]):
        yield batch
        after = batch[-1]


def _record(result: PruneResult) -> None:
    """One audit entry per team that lost rows, and one log line for the run."""
    teams = Team.objects.in_bulk(list(result.deleted))
    for team_id, counts in result.deleted.items():
        details: dict = {
            "finding_events": counts["finding_events"],
            "sync_runs": counts["sync_runs"],
        }
        if counts["finding_events"]:
            details["events_before"] = result.events_before.isoformat()
            details["events_retention_days"] = settings.PORTAL_EVENTS_RETENTION_DAYS
        if counts["sync_runs"]:
            details["sync_runs_before"] = result.sync_runs_before.isoformat()
            details["sync_runs_retention_days"] = settings.PORTAL_SYNC_RUNS_RETENTION_DAYS
        team = teams.get(team_id)
        if team is not None:
            audit_log(team=team, actor=SYSTEM, action="history.prune", details=details)
    totals = result.totals
    logger.info(
        "history pruned: %d finding events before %s, %d sync runs before %s%s",
        totals["finding_events"],
        result.events_before.date() if result.events_before else "(kept forever)",
        totals["sync_runs"],
        result.sync_runs_before.date() if result.sync_runs_before else "(kept forever)",
        f"; connections busy: {result.connections_busy}" if result.connections_busy else "",
    )
