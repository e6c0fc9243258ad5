"""Writes of the reports area: the team's SLA policy and the daily snapshots of findings."""

from __future__ import annotations

import time as monotonic_time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from triage.models import (
    DailyFindingSnapshot,
    Finding,
    FindingEvent,
    ReportSnapshotState,
    Repository,
    Role,
    SlaPolicy,
    SyncState,
    Team,
)
from triage.services.audit import audit_log
from triage.services.errors import ServiceError
from triage.services.teams import require_role

OPEN_STATUSES = frozenset({"open", "needs_manual_review"})
SNAPSHOT_BATCH_SIZE = 5000


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
    return policy


def status_after_event(*, event_type: str, new_status: str | None, current: str | None):
    """A finding's status after one feed event; events that are not about status keep it."""
    if event_type in ("detected", "reopened"):
        return "open"
    if event_type.startswith("resolved"):
        return "resolved"
    if event_type == "status_changed":
        return new_status or current
    return current


def _utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def report_snapshots_rebuild(*, team: Team, now: datetime | None = None) -> int:
    """Replay the team's finding events into one row per (day, repository, severity).

    Events are the source of truth: detected and reopened open a finding, resolved_* resolve
    it, status_changed moves it to its new status; other events (fix activity) leave it. A
    severity change while open moves the finding between severities. Returns rows written.
    """
    started = monotonic_time.monotonic()
    now = now or timezone.now()
    today = _utc_day(now)
    repositories = {
        (connection_id, upstream_id): pk
        for pk, connection_id, upstream_id in Repository.objects.filter(team=team).values_list(
            "pk", "connection_id", "upstream_id"
        )
    }
    # Events may carry no severity; the finding's own severity stands in then.
    fallback_severity = {
        (connection_id, upstream_id): severity
        for connection_id, upstream_id, severity in Finding.objects.filter(team=team).values_list(
            "connection_id", "upstream_id", "severity"
        )
    }
    # (repository pk, severity) -> day -> [open delta, new, reopened, resolved]
    flows: dict[tuple[int, str], dict[date, list[int]]] = defaultdict(
        lambda: defaultdict(lambda: [0, 0, 0, 0])
    )
    events = (
        FindingEvent.objects.filter(team=team, event_timestamp__lt=now)
        .order_by("connection_id", "finding_upstream_id", "event_timestamp", "id")
        .values_list(
            "connection_id",
            "finding_upstream_id",
            "repository_upstream_id",
            "event_type",
            "new_status",
            "severity",
            "event_timestamp",
        )
    )
    current_finding = None
    status = severity = None
    newest_synced = FindingEvent.objects.filter(team=team).aggregate(last=Max("synced_at"))["last"]
    for (
        connection_id,
        finding_id,
        repository_id,
        event_type,
        new_status,
        event_severity,
        at,
    ) in events.iterator(chunk_size=SNAPSHOT_BATCH_SIZE):
        if (connection_id, finding_id) != current_finding:
            current_finding = (connection_id, finding_id)
            status = None
            severity = fallback_severity.get(current_finding)
        repository_pk = repositories.get((connection_id, repository_id))
        next_severity = (event_severity or severity or "unknown").lower()
        next_status = status_after_event(
            event_type=event_type, new_status=new_status, current=status
        )
        if repository_pk is not None:
            day = _utc_day(at)
            if status in OPEN_STATUSES:
                flows[(repository_pk, severity)][day][0] -= 1
            if next_status in OPEN_STATUSES:
                flows[(repository_pk, next_severity)][day][0] += 1
            counters = flows[(repository_pk, next_severity)][day]
            if event_type == "detected":
                counters[1] += 1
            elif event_type == "reopened" and status not in OPEN_STATUSES:
                counters[2] += 1
            elif next_status == "resolved" and status != "resolved":
                counters[3] += 1
        status, severity = next_status, next_severity

    rows = []
    for (repository_pk, sev), by_day in flows.items():
        open_count = 0
        day = min(by_day)
        while day <= today:
            delta, new, reopened, resolved = by_day.get(day, (0, 0, 0, 0))
            open_count += delta
            if open_count or new or reopened or resolved:
                rows.append(
                    DailyFindingSnapshot(
                        team=team,
                        repository_id=repository_pk,
                        day=day,
                        severity=sev,
                        open_count=open_count,
                        new_count=new,
                        reopened_count=reopened,
                        resolved_count=resolved,
                    )
                )
            day += timedelta(days=1)
    with transaction.atomic():
        DailyFindingSnapshot.objects.filter(team=team).delete()
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


def report_snapshots_stale(*, team: Team, now: datetime) -> bool:
    """True when a sync succeeded or a UTC day began since the snapshots were rebuilt."""
    state = ReportSnapshotState.objects.filter(team=team).first()
    if state is None or state.rebuilt_at is None:
        return True
    if _utc_day(state.rebuilt_at) != _utc_day(now):
        return True
    last_sync = SyncState.objects.filter(connection__team=team).aggregate(
        last=Max("last_success_at")
    )["last"]
    return last_sync is not None and last_sync > state.rebuilt_at
