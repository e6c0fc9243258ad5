"""Findings: listing and status changes."""

from bisect import bisect_left
from collections import OrderedDict
from datetime import UTC, datetime
from threading import Lock

from django.db import transaction
from django.db.models import Max, QuerySet

from sandbox import clock
from sandbox.models import Finding, FindingEvent, FindingStatus, Repository
from sandbox.services.events import finding_event_build
from sandbox.services.lookups import finding_get, parse_uuid

REOPENABLE_FROM = (FindingStatus.RESOLVED, FindingStatus.IGNORED, FindingStatus.FALSE_POSITIVE)


def findings_filter(
    *,
    repository: Repository,
    scan_batch_id: str | None = None,
    severity: str | None = None,
    status: str | None = None,
    scan_type: str | None = None,
) -> QuerySet[Finding]:
    findings = Finding.objects.filter(repository=repository).select_related("source_repo")
    if scan_batch_id is not None:
        findings = findings.filter(batchfinding__batch_id=parse_uuid(scan_batch_id))
    if severity is not None:
        findings = findings.filter(severity=severity)
    if status is not None:
        findings = findings.filter(status=status)
    if scan_type is not None:
        findings = findings.filter(scan_type=scan_type)
    return findings.order_by("-first_detected_at", "id")


def _event_type_for(previous: str, new: str) -> str:
    if new == FindingStatus.RESOLVED:
        return "resolved_manual"
    if new == FindingStatus.OPEN and previous in REOPENABLE_FROM:
        return "reopened"
    return "status_changed"


@transaction.atomic
def finding_status_set(*, repository: Repository, finding_id: str, status: str) -> Finding:
    """Set a finding's status; setting the status it already has changes nothing."""
    finding = finding_get(repository=repository, finding_id=finding_id)
    # Only the finding is locked: with its source repository too, every status change of a
    # repository's findings would wait for the one before it.
    finding = (
        Finding.objects.select_for_update(of=("self",))
        .select_related("source_repo")
        .get(pk=finding.pk)
    )
    if finding.status == status:
        return finding
    previous = finding.status
    now = clock.now()
    finding.status = status
    finding.resolved_at = now if status == FindingStatus.RESOLVED else None
    finding.updated_at = now
    finding.save(update_fields=["status", "resolved_at", "updated_at"])
    finding_event_build(
        finding=finding,
        event_type=_event_type_for(previous, status),
        at=now,
        previous_status=previous,
        new_status=status,
        metadata={"source": "public_api"},
    ).save()
    return finding


def finding_events_filter(
    *,
    organization_id,
    repository_id: str | None = None,
    finding_id: str | None = None,
    scan_type: str | None = None,
    severity: str | None = None,
    event_type: str | None = None,
    start=None,
    end=None,
) -> QuerySet[FindingEvent]:
    events = FindingEvent.objects.filter(organization_id=organization_id)
    if repository_id is not None:
        events = events.filter(repository_id=parse_uuid(repository_id))
    if finding_id is not None:
        events = events.filter(finding_id=parse_uuid(finding_id))
    if scan_type is not None:
        events = events.filter(scan_type=scan_type)
    if severity is not None:
        events = events.filter(severity=severity)
    if event_type is not None:
        events = events.filter(event_type=event_type)
    if start is not None:
        events = events.filter(event_timestamp__gte=start)
    if end is not None:
        events = events.filter(event_timestamp__lte=end)
    return events.order_by("-event_timestamp", "-sequence")


# Counting an organization's whole event feed for every page's `total` costs more than
# the page itself, and a client walking the feed in time windows asks for a new `end` every
# few pages: counting everything up to each `end` again makes the walk quadratic. Events
# are only ever appended, so counts stay right until the newest event changes. For each
# filter set (without `end`) and newest event, the counts already taken are kept by `end`,
# and a new `end` is counted from the nearest one: only the events between the two.
_EVENT_COUNTS: OrderedDict[tuple, list[tuple[datetime, int]]] = OrderedDict()
_EVENT_COUNTS_LOCK = Lock()
_EVENT_COUNTS_KEPT = 64  # filter sets
_EVENT_COUNTS_ENDS_KEPT = 4096  # counted ends per filter set
_NO_END = datetime.max.replace(tzinfo=UTC)  # `end` unset: every event


def finding_events_count(
    events: QuerySet[FindingEvent], *, filters: tuple, end: datetime | None = None
) -> int:
    """`events.count()` for `events` filtered by `filters` and then by `end` (inclusive),
    counted from the nearest `end` already counted for the same filters."""
    newest = FindingEvent.objects.aggregate(newest=Max("sequence"))["newest"]
    key = (newest, *filters)
    end = _NO_END if end is None else end
    with _EVENT_COUNTS_LOCK:
        counted = _EVENT_COUNTS.get(key)
        if counted is not None:
            _EVENT_COUNTS.move_to_end(key)
            nearest = _nearest(counted, end)
        else:
            nearest = None
    if nearest is not None and nearest[0] == end:
        return nearest[1]
    if nearest is None:
        total = (events if end == _NO_END else events.filter(event_timestamp__lte=end)).count()
    elif nearest[0] > end:
        between = events.filter(event_timestamp__gt=end, event_timestamp__lte=nearest[0])
        total = nearest[1] - between.count()
    else:
        between = events.filter(event_timestamp__gt=nearest[0], event_timestamp__lte=end)
        total = nearest[1] + between.count()
    with _EVENT_COUNTS_LOCK:
        counted = _EVENT_COUNTS.setdefault(key, [])
        _EVENT_COUNTS.move_to_end(key)
        position = bisect_left(counted, (end,))
        if position == len(counted) or counted[position][0] != end:
            counted.insert(position, (end, total))
        if len(counted) > _EVENT_COUNTS_ENDS_KEPT:
            # The ends furthest behind a walk are the least likely to be asked again.
            del counted[len(counted) // 2]
        while len(_EVENT_COUNTS) > _EVENT_COUNTS_KEPT:
            _EVENT_COUNTS.popitem(last=False)
    return total


def _nearest(counted: list[tuple[datetime, int]], end: datetime) -> tuple[datetime, int] | None:
    """The counted end closest in time to `end` (the list is sorted by end)."""
    position = bisect_left(counted, (end,))
    candidates = counted[max(0, position - 1) : position + 1]
    if not candidates:
        return None
    return min(candidates, key=lambda entry: abs(entry[0] - end))
