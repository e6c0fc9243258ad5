"""Writes of the reports area: the team's SLA policy and the daily snapshots of findings."""

from __future__ import annotations

import time as monotonic_time
from datetime import datetime

from django.core.cache import cache
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from triage.models import (
    DailyFindingSnapshot,
    Finding,
    FindingEvent,
    FindingEventBaseline,
    ReportSnapshotState,
    Role,
    SlaPolicy,
    Team,
)
from triage.reports.replay import (
    baselines_of,
    day_counts,
    history_kept_from,
    ordered_events,
    replay,
    utc_day,
)
from triage.selectors.sync import team_last_synced_at
from triage.services.audit import audit_log
from triage.services.errors import ServiceError
from triage.services.teams import require_role
from triage.task_queue import TaskName, task_send

SNAPSHOT_BATCH_SIZE = 5000
# A first visit replays this many events while the person waits (well under a second);
# a bigger history is replayed by a task and the page says the trends are on their way.
INLINE_REBUILD_MAX_EVENTS = 20_000
# A stale report queues one rebuild per team in this window, however many people look.
REFRESH_QUEUE_SECONDS = 60


def sla_policy_update(*, team: Team, actor, days: dict[str, int]) -> SlaPolicy:
    """Set the days each severity may stay open; admins only, audit-logged with old and new."""
    require_role(team=team, user=actor, role=Role.ADMIN)
    for severity, value in days.items():
        if severity not in SlaPolicy.DEFAULT_DAYS:
            raise ServiceError(f"Unknown severity {severity!r}.", field=None)
        if not 1 <= value <= 3650:
            raise ServiceError("Use between 1 and 3650 days.", field=f"{severity}_days")
    with transaction.atomic():
        policy, _ = SlaPolicy.objects.select_for_update().get_or_create(team=team)
        before = policy.days
        for severity, value in days.items():
            setattr(policy, f"{severity}_days", value)
        policy.updated_by = actor
        policy.save()
        audit_log(
            team=team,
            actor=actor,
            action="reports.sla_policy.update",
            target=policy,
            target_label="SLA policy",
            details={"before": before, "after": policy.days},
        )
    policy.team = team  # the caller's team reads the saved policy from now on
    return policy


def report_snapshots_rebuild(*, team: Team, now: datetime | None = None) -> int:
    """Replay all of the team's finding events into one row per (UTC day, severity).

    Idempotent: the team's rows are replaced by what the events say, so a past day changes
    only if Kolega's event history itself changed. Once old events were pruned, the replay
    starts from the findings' baselines and only the days from the first one kept are
    rewritten: earlier rows stay as the rebuilds that still had their events wrote them.
    Returns the number of rows written.
    """
    started = monotonic_time.monotonic()
    now = now or timezone.now()
    # Events may carry no severity; the finding's own severity stands in then.
    fallback_severity = {
        (connection_id, upstream_id): severity
        for connection_id, upstream_id, severity in Finding.objects.filter(team=team).values_list(
            "connection_id", "upstream_id", "severity"
        )
    }
    newest_synced = FindingEvent.objects.filter(team=team).aggregate(last=Max("synced_at"))["last"]
    kept_from = history_kept_from(team=team)
    flows = replay(
        ordered_events(FindingEvent.objects.filter(team=team, event_timestamp__lt=now)),
        fallback_severity=fallback_severity,
        baselines=baselines_of(FindingEventBaseline.objects.filter(team=team)),
    )
    rows = [
        DailyFindingSnapshot(
            team=team,
            day=count.day,
            severity=count.severity,
            open_count=count.open,
            new_count=count.new,
            reopened_count=count.reopened,
            resolved_count=count.resolved,
        )
        for count in day_counts(flows, last_day=utc_day(now), first_day=kept_from)
    ]
    replaced = DailyFindingSnapshot.objects.filter(team=team)
    if kept_from is not None:
        replaced = replaced.filter(day__gte=kept_from)
    with transaction.atomic():
        replaced.delete()
        DailyFindingSnapshot.objects.bulk_create(rows, batch_size=SNAPSHOT_BATCH_SIZE)
        ReportSnapshotState.objects.update_or_create(
            team=team,
            defaults={
                "rebuilt_at": now,
                "events_synced_through": newest_synced,
                "rebuild_seconds": monotonic_time.monotonic() - started,
            },
        )
    return len(rows)


def report_snapshots_stale(
    *,
    team: Team,
    now: datetime,
    state: ReportSnapshotState | None = None,
    last_sync: datetime | None = None,
) -> bool:
    """True when a sync succeeded or a UTC day began since the snapshots were rebuilt.

    A caller that has read the team's state row or its last successful sync already passes
    them in.
    """
    if state is None:
        state = ReportSnapshotState.objects.filter(team=team).first()
    if state is None or state.rebuilt_at is None:
        return True
    if utc_day(state.rebuilt_at) != utc_day(now):
        return True
    if last_sync is None:
        last_sync = team_last_synced_at(team=team)
    return last_sync is not None and last_sync > state.rebuilt_at


def report_snapshots_ensure(
    *, team: Team, now: datetime, last_sync: datetime | None
) -> ReportSnapshotState | None:
    """Snapshots for the report's trends: built at once on a small team's first visit,
    otherwise rebuilt by a task whenever a sync or a new UTC day made them stale. Answers the
    state the page shows (None while a first rebuild is on its way)."""
    state = ReportSnapshotState.objects.filter(team=team).first()
    if (
        state is None
        and not FindingEvent.objects.filter(team=team)[: INLINE_REBUILD_MAX_EVENTS + 1].count()
        > INLINE_REBUILD_MAX_EVENTS
    ):
        report_snapshots_rebuild(team=team, now=now)
        return ReportSnapshotState.objects.filter(team=team).first()
    stale = report_snapshots_stale(team=team, now=now, state=state, last_sync=last_sync)
    if stale and cache.add(f"reports:snapshots-queued:{team.pk}", "1", REFRESH_QUEUE_SECONDS):
        transaction.on_commit(lambda: task_send(TaskName.REPORT_SNAPSHOTS_REFRESH, team.pk))
    return state
