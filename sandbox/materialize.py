"""Writing down what a life cycle produced, once, when it is first observed.

A batch's findings and events, a fix's diff and its events are written by the first read
after the moment they happened. Each writer locks its row and re-checks, so concurrent
readers write them exactly once.
"""

import importlib
from datetime import datetime

from django.db import transaction

from sandbox import clock, lifecycle
from sandbox.models import (
    BatchFinding,
    Finding,
    FindingEvent,
    FindingStatus,
    Fix,
    Organization,
    ScanBatch,
    ScanRun,
    SourceRepo,
)
from sandbox.services.events import finding_event_build
from sandbox.services.trees import source_tree


def scanner():
    """The scanning package, imported on use: it is a separate, Django-free package."""
    return importlib.import_module("sandbox.scanning")


# Statuses a rescan may close when the problem is gone; a human's verdict is kept.
AUTO_RESOLVABLE = (FindingStatus.OPEN, FindingStatus.NEEDS_MANUAL_REVIEW)

DETECTION_FIELDS = (
    "check_id",
    "title",
    "message",
    "severity",
    "category",
    "file_path",
    "line",
    "cwe",
    "owasp",
    "references",
    "cvss_base_score",
    "cvss_severity",
    "cvss_vector",
)


def _record_detections(
    *,
    batch: ScanBatch,
    source_repo: SourceRepo,
    detections: list,
    at: datetime,
) -> int:
    """Dedupe ``detections`` against known findings by fingerprint; answer how many."""
    by_fingerprint = {}
    for detection in detections:
        by_fingerprint.setdefault(detection.fingerprint, detection)
    known = {
        finding.fingerprint: finding
        for finding in Finding.objects.select_for_update().filter(
            source_repo=source_repo, scan_type=batch.scan_type
        )
    }
    created, updated, events = [], [], []
    for fingerprint, detection in by_fingerprint.items():
        finding = known.get(fingerprint)
        if finding is None:
            finding = Finding(
                organization_id=batch.organization_id,
                repository_id=batch.repository_id,
                source_repo=source_repo,
                scan_type=batch.scan_type,
                fingerprint=fingerprint,
                status=FindingStatus.OPEN,
                first_detected_at=at,
                last_detected_at=at,
                created_at=at,
                updated_at=at,
                **{name: getattr(detection, name) for name in DETECTION_FIELDS},
            )
            created.append(finding)
            events.append(
                finding_event_build(
                    finding=finding,
                    event_type="detected",
                    at=at,
                    new_status=FindingStatus.OPEN,
                    scan_batch=batch,
                )
            )
            continue
        # The line may move when code above it changes; the fingerprint does not.
        for name in DETECTION_FIELDS:
            setattr(finding, name, getattr(detection, name))
        finding.last_detected_at = at
        finding.updated_at = at
        if finding.status == FindingStatus.RESOLVED:
            finding.status = FindingStatus.OPEN
            finding.resolved_at = None
            events.append(
                finding_event_build(
                    finding=finding,
                    event_type="reopened",
                    at=at,
                    previous_status=FindingStatus.RESOLVED,
                    new_status=FindingStatus.OPEN,
                    scan_batch=batch,
                    metadata={"reason": "detected_again"},
                )
            )
        updated.append(finding)
    for fingerprint, finding in known.items():
        if fingerprint in by_fingerprint or finding.status not in AUTO_RESOLVABLE:
            continue
        previous = finding.status
        finding.status = FindingStatus.RESOLVED
        finding.resolved_at = at
        finding.updated_at = at
        updated.append(finding)
        events.append(
            finding_event_build(
                finding=finding,
                event_type="resolved_auto",
                at=at,
                previous_status=previous,
                new_status=FindingStatus.RESOLVED,
                scan_batch=batch,
            )
        )
    Finding.objects.bulk_create(created)
    Finding.objects.bulk_update(
        updated, [*DETECTION_FIELDS, "status", "resolved_at", "last_detected_at", "updated_at"]
    )
    FindingEvent.objects.bulk_create(events)
    reported = [*created, *(f for f in updated if f.fingerprint in by_fingerprint)]
    BatchFinding.objects.bulk_create(
        [BatchFinding(batch=batch, finding=finding) for finding in reported]
    )
    return len(by_fingerprint)


def batch_materialize(*, batch_id) -> bool:
    """Write the outcome of a finished batch; False when it is not finished yet."""
    with transaction.atomic():
        batch = ScanBatch.objects.select_for_update().get(pk=batch_id)
        if batch.materialized_at is not None:
            return True
        runs = list(batch.runs.select_related("source_repo"))
        state = lifecycle.batch_state(batch, runs)
        if not state.is_terminal:
            return False
        at = state.completed_at
        for run in runs:
            if run.will_fail:
                continue
            files = source_tree(source_repo=run.source_repo)
            detections = scanner().scan_tree(files, batch.scan_type)
            run.findings_count = _record_detections(
                batch=batch, source_repo=run.source_repo, detections=detections, at=at
            )
        ScanRun.objects.bulk_update(runs, ["findings_count"])
        batch.materialized_at = clock.now()
        batch.final_status = state.status
        batch.save(update_fields=["materialized_at", "final_status"])
        return True


def detection_of(finding: Finding):
    """The scanner's view of a stored finding (what a fix is asked to address)."""
    listed = {name: tuple(getattr(finding, name)) for name in ("cwe", "owasp", "references")}
    return scanner().Detection(
        fingerprint=finding.fingerprint,
        scan_type=finding.scan_type,
        **{name: getattr(finding, name) for name in DETECTION_FIELDS} | listed,
    )


def _fix_findings(fix: Fix) -> list[Finding]:
    return list(Finding.objects.filter(organization_id=fix.organization_id, id__in=fix.finding_ids))


def fix_events_create(*, fix: Fix, event_type: str, at: datetime, **metadata) -> None:
    FindingEvent.objects.bulk_create(
        [
            finding_event_build(
                finding=finding,
                event_type=event_type,
                at=at,
                previous_status=finding.status,
                new_status=finding.status,
                metadata={"fix_id": str(fix.id), **metadata},
            )
            for finding in _fix_findings(fix)
        ]
    )


def _propose_diff(fix: Fix) -> tuple[str, str]:
    """The fix's diff, or an empty one and why the agent gave up."""
    gave_up = "The agent could not produce a change that passes the tests"
    if fix.source_repo is None:
        return "", gave_up
    scanning = scanner()
    instructions = "\n".join(filter(None, [fix.instructions, fix.refine_instructions]))
    try:
        diff = scanning.propose_fix(
            source_tree(source_repo=fix.source_repo),
            [detection_of(finding) for finding in _fix_findings(fix)],
            instructions=instructions,
            variant=fix.run_number,
        )
    except getattr(scanning, "FixNotPossible", ValueError) as error:
        return "", f"{gave_up}: {error}"
    return diff, gave_up


def fix_materialize(*, fix_id) -> Fix:
    """Record the start and the outcome of a fix's current run once they have happened."""
    with transaction.atomic():
        fix = Fix.objects.select_for_update().get(pk=fix_id)
        if fix.final_status:
            return fix
        state = lifecycle.fix_state(fix)
        if state.status == "pending":
            return fix
        if fix.started_event_run < fix.run_number:
            fix.started_at = state.started_at
            fix.started_event_run = fix.run_number
            fix_events_create(
                fix=fix, event_type="fix_started", at=state.started_at, run=fix.run_number
            )
        if state.run_finished:
            end = lifecycle.fix_run_end(fix)
            diff, failure = _propose_diff(fix)
            fix.completed_at = end
            if diff.strip():
                fix.final_status, fix.diff, fix.error_message = "completed", diff, None
                fix_events_create(fix=fix, event_type="fix_completed", at=end)
            else:
                fix.final_status, fix.diff = "failed", None
                fix.error_message = failure
                fix_events_create(fix=fix, event_type="fix_failed", at=end)
        fix.save()
        return fix


def organization_catch_up(*, organization: Organization) -> None:
    """Materialize every batch and fix of ``organization`` whose moment has passed.

    Called before reading lists, so the event feed and finding lists never miss an
    outcome that a client could already see by reading the batch or fix itself.
    """
    pending_batches = ScanBatch.objects.filter(
        organization=organization, materialized_at__isnull=True
    ).prefetch_related("runs")
    due = []
    for batch in pending_batches:
        runs = list(batch.runs.all())
        if lifecycle.batch_state(batch, runs).is_terminal:
            due.append((lifecycle.batch_completed_at(batch, runs), batch.created_at, batch.pk))
    # Oldest outcome first: a later rescan must see the findings an earlier one wrote.
    for _, _, batch_id in sorted(due):
        batch_materialize(batch_id=batch_id)
    for fix in Fix.objects.filter(organization=organization, final_status=""):
        state = lifecycle.fix_state(fix)
        if state.status != "pending" and (
            state.run_finished or fix.started_event_run < fix.run_number
        ):
            fix_materialize(fix_id=fix.pk)
