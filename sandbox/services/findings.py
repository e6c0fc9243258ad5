"""Findings: listing and status changes."""

from collections import OrderedDict
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
    finding = Finding.objects.select_for_update().select_related("source_repo").get(pk=finding.pk)
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
# the page itself. Events are only ever appended, so a count stays right until the
# newest event changes: counts are kept per filter set and newest event, in this process.
_EVENT_COUNTS: OrderedDict[tuple, int] = OrderedDict()
_EVENT_COUNTS_LOCK = Lock()
_EVENT_COUNTS_KEPT = 256


def finding_events_count(events: QuerySet[FindingEvent], *, filters: tuple) -> int:
    """`events.count()`, kept for the same `filters` until a new event is written."""
    newest = FindingEvent.objects.aggregate(newest=Max("sequence"))["newest"]
    key = (newest, *filters)
    with _EVENT_COUNTS_LOCK:
        if key in _EVENT_COUNTS:
            _EVENT_COUNTS.move_to_end(key)
            return _EVENT_COUNTS[key]
    total = events.count()
    with _EVENT_COUNTS_LOCK:
        _EVENT_COUNTS[key] = total
        while len(_EVENT_COUNTS) > _EVENT_COUNTS_KEPT:
            _EVENT_COUNTS.popitem(last=False)
    return total
