"""Notes on findings written by the dismissal workflow, and what a finished status job means
for the dismissal that started it.

Below both `triage.services.findings` (whose status jobs apply and reopen dismissals) and
`triage.services.dismissals` (which starts those jobs), so neither imports the other back.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.db.models import Q
from django.utils import timezone

from triage.models import (
    DismissalDecision,
    DismissalRequest,
    DismissalRequestItem,
    FindingNote,
    FindingStatus,
    FindingStatusJob,
    FindingStatusJobItem,
    label_of,
)
from triage.models.audit import SYSTEM, audit_log

Status = DismissalRequest.Status
Kind = FindingNote.Kind
Outcome = FindingStatusJobItem.Outcome


def today() -> datetime.date:
    """Expiry dates are days of the portal's clock (UTC)."""
    return timezone.now().date()


def status_label(status: str) -> str:
    return label_of(FindingStatus, status)


def notes_write(request: DismissalRequest, finding_ids: Iterable[int], kind: str, body: str):
    """One note per finding; a second write of the same note of the same request is a no-op."""
    finding_ids = list(finding_ids)
    existing = set(
        FindingNote.objects.filter(
            dismissal=request, kind=kind, finding_id__in=finding_ids
        ).values_list("finding_id", flat=True)
    )
    FindingNote.objects.bulk_create(
        [
            FindingNote(
                team_id=request.team_id, finding_id=pk, dismissal=request, kind=kind, body=body
            )
            for pk in finding_ids
            if pk not in existing
        ],
        batch_size=1000,
        ignore_conflicts=True,
    )


def dismissal_status_job_finished(*, job: FindingStatusJob) -> None:
    """Follow a finished status job that applied or reopened a dismissal.

    Called inside the transaction that finishes the job, and again after a retry of its
    failed items: applied flags and notes are only ever added.
    """
    request = (
        DismissalRequest.objects.select_for_update(of=("self",))
        .filter(Q(apply_job=job) | Q(reopen_job=job))
        .first()
    )
    if request is None:
        return
    accepted = list(
        job.items.filter(outcome__in=[Outcome.CHANGED, Outcome.UNCHANGED])
        .exclude(finding=None)
        .values_list("finding_id", flat=True)
    )
    if request.apply_job_id == job.pk:
        _applied(request, job, accepted)
    else:
        expired_on = request.expires_on or today()
        notes_write(
            request,
            accepted,
            Kind.DISMISSAL_EXPIRED,
            f"Dismissal expired on {expired_on:%d %b %Y}; reopened",
        )
        audit_log(
            team=request.team,
            actor=SYSTEM,
            action="dismissal.reopened",
            target=request,
            details={"job": job.pk, "reopened": len(accepted), "failed": job.failed},
        )


def _applied(request: DismissalRequest, job: FindingStatusJob, accepted: list[int]) -> None:
    DismissalRequestItem.objects.filter(request=request, finding_id__in=accepted).update(
        applied=True
    )
    if request.status not in (Status.APPROVED, Status.FAILED):
        return
    approvers = ", ".join(
        d.approver.get_username()
        for d in request.decisions.filter(decision=DismissalDecision.Decision.APPROVE)
        .select_related("approver")
        .order_by("created_at")
    )
    until = f" until {request.expires_on:%d %b %Y}" if request.expires_on else ""
    notes_write(
        request,
        accepted,
        Kind.DISMISSAL_APPLIED,
        f"Set to {status_label(request.requested_status)}{until}, approved by {approvers}: "
        f"{request.reason}",
    )
    status = Status.APPLIED if accepted else Status.FAILED
    if status != request.status:
        request.status = status
        request.applied_at = timezone.now() if accepted else None
        request.save(update_fields=["status", "applied_at"])
        audit_log(
            team=request.team,
            actor=SYSTEM,
            action=f"dismissal.{status}",
            target=request,
            details={"job": job.pk, "applied": len(accepted), "failed": job.failed},
        )
