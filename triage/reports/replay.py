"""Replaying finding events into daily counts: the one definition of a finding's history.

Events are the source of truth: detected and reopened open a finding, resolved_* resolve it,
status_changed moves it to its new status, and other events (fix activity) leave it as it
was. A severity change while open moves the finding from one severity to the other. Both the
stored daily snapshots and the on-request history of one repository come from here.

Events older than the retention are deleted; what they had made of each finding is kept as its
baseline (`FindingEventBaseline`), from which the replay of the remaining events starts, so
every day from the first one kept counts as the whole history would.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db.models import QuerySet

from triage.models import (
    Finding,
    FindingEvent,
    FindingEventBaseline,
    FindingEventType,
    FindingStatus,
    SyncState,
    Team,
)

OPEN_STATUSES = frozenset(Finding.UNRESOLVED_STATUSES)
EVENT_FIELDS = (
    "connection_id",
    "finding_upstream_id",
    "event_type",
    "new_status",
    "severity",
    "event_timestamp",
)


@dataclass(frozen=True)
class DayCount:
    day: date
    severity: str
    open: int
    new: int
    reopened: int
    resolved: int


@dataclass(frozen=True)
class Baseline:
    """A finding's status and severity when its older events were pruned, and that day."""

    status: str | None
    severity: str
    day: date


def status_after_event(*, event_type: str, new_status: str | None, current: str | None):
    if event_type in (FindingEventType.DETECTED, FindingEventType.REOPENED):
        return FindingStatus.OPEN
    if event_type.startswith("resolved"):
        return FindingStatus.RESOLVED
    if event_type == FindingEventType.STATUS_CHANGED:
        return new_status or current
    return current


def state_after_event(
    *,
    event_type: str,
    new_status: str | None,
    event_severity: str | None,
    status: str | None,
    severity: str | None,
) -> tuple[str | None, str]:
    """A finding's (status, severity) after one more event."""
    next_severity = (event_severity or severity or "unknown").lower()
    return status_after_event(
        event_type=event_type, new_status=new_status, current=status
    ), next_severity


def utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def history_kept_from(*, team: Team) -> date | None:
    """The first UTC day whose events are all kept (the team's newest pruning), or None when
    none was pruned: figures from that day on are exact, earlier ones are not replayable."""
    pruned = SyncState.objects.filter(
        connection__team=team, events_pruned_before__isnull=False
    ).values_list("events_pruned_before", flat=True)
    newest = max(pruned, default=None)
    return utc_day(newest) if newest is not None else None


def baselines_of(baselines: QuerySet[FindingEventBaseline]) -> dict[tuple[int, str], Baseline]:
    return {
        (connection_id, finding_id): Baseline(status, severity, utc_day(as_of))
        for connection_id, finding_id, status, severity, as_of in baselines.values_list(
            "connection_id", "finding_upstream_id", "status", "severity", "as_of"
        ).iterator(chunk_size=5000)
    }


def ordered_events(events: QuerySet[FindingEvent], *, stream: bool = True) -> Iterable[tuple]:
    """Each finding's events in the order they happened (`EVENT_FIELDS`).

    `stream` reads through a server-side cursor for the whole team's history; a small
    selection is read at once instead, because PostgreSQL plans a cursor for its first rows
    and would walk the whole events index in order to get them.
    """
    rows = events.order_by(
        "connection_id", "finding_upstream_id", "event_timestamp", "id"
    ).values_list(*EVENT_FIELDS)
    return rows.iterator(chunk_size=5000) if stream else list(rows)


def replay(
    events: Iterable[tuple],
    *,
    fallback_severity: dict[tuple[int, str], str] | None = None,
    baselines: dict[tuple[int, str], Baseline] | None = None,
) -> dict[str, dict[date, list[int]]]:
    """severity -> day -> [change in open count, new, reopened, resolved], from ordered events.

    A finding with a baseline starts from it: open on its day if its pruned events left it
    open, and its remaining events continue from that status and severity.
    """
    fallback_severity = fallback_severity or {}
    baselines = baselines or {}
    flows: dict[str, dict[date, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0, 0]))
    for baseline in baselines.values():
        if baseline.status in OPEN_STATUSES:
            flows[baseline.severity][baseline.day][0] += 1
    current_finding = None
    status = severity = None
    for connection_id, finding_id, event_type, new_status, event_severity, at in events:
        if (connection_id, finding_id) != current_finding:
            current_finding = (connection_id, finding_id)
            baseline = baselines.get(current_finding)
            if baseline is not None:
                status, severity = baseline.status, baseline.severity
            else:
                status, severity = None, fallback_severity.get(current_finding)
        next_status, next_severity = state_after_event(
            event_type=event_type,
            new_status=new_status,
            event_severity=event_severity,
            status=status,
            severity=severity,
        )
        day = utc_day(at)
        if status in OPEN_STATUSES:
            flows[severity][day][0] -= 1
        if next_status in OPEN_STATUSES:
            flows[next_severity][day][0] += 1
        counters = flows[next_severity][day]
        if event_type == FindingEventType.DETECTED:
            counters[1] += 1
        elif event_type == FindingEventType.REOPENED and status not in OPEN_STATUSES:
            counters[2] += 1
        elif next_status == FindingStatus.RESOLVED and status != FindingStatus.RESOLVED:
            counters[3] += 1
        status, severity = next_status, next_severity
    return flows


def day_counts(
    flows: dict[str, dict[date, list[int]]], *, last_day: date, first_day: date | None = None
) -> Iterator[DayCount]:
    """Running open counts per severity and day up to `last_day`; all-zero days are left out."""
    for severity, by_day in flows.items():
        open_count = 0
        day = min(by_day)
        while day <= last_day:
            delta, new, reopened, resolved = by_day.get(day, (0, 0, 0, 0))
            open_count += delta
            if (first_day is None or day >= first_day) and (
                open_count or new or reopened or resolved
            ):
                yield DayCount(day, severity, open_count, new, reopened, resolved)
            day += timedelta(days=1)
