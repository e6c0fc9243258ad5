"""Dismissals that need a second person: request, decide, cancel, apply and expire.

While a team's approval policy has ``dismissals_require_approval`` on, setting findings to
ignored or false positive records a `DismissalRequest` instead of changing anything. The last
approval needed applies the status through a bulk status job (per-finding outcomes, rate-limit
handling and audit come with it); when that job finishes the request is applied (or failed,
when Kolega accepted none). An applied ``ignored`` with an expiry date is reopened by a
scheduled task, again through a status job, and each finding's timeline says so.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from triage.models import (
    DISMISSAL_STATUSES,
    DismissalDecision,
    DismissalRequest,
    DismissalRequestItem,
    Finding,
    FindingNote,
    FindingStatus,
    FindingStatusJob,
    FindingStatusJobItem,
    Role,
    Team,
    TeamApprovalPolicy,
    label_of,
)
from triage.services.approvals import approval_policy_for, approvers_email, four_eyes_check
from triage.services.audit import audit_log
from triage.services.errors import ServiceError
from triage.services.findings import MAX_JOB_ITEMS, finding_status_job_create
from triage.services.teams import SYSTEM, require_role

logger = logging.getLogger("triage.dismissals")

Status = DismissalRequest.Status
Kind = FindingNote.Kind
Outcome = FindingStatusJobItem.Outcome


def dismissals_need_approval(team: Team) -> bool:
    return approval_policy_for(team).dismissals_require_approval


def is_dismissal(status: str) -> bool:
    return status in DISMISSAL_STATUSES


def status_needs_approval(team: Team, status: str) -> bool:
    """Whether setting `status` in this team must go through a `DismissalRequest`."""
    return is_dismissal(status) and dismissals_need_approval(team)


def today() -> datetime.date:
    """Expiry dates are days of the portal's clock (UTC)."""
    return timezone.now().date()


def _label(status: str) -> str:
    return label_of(FindingStatus, status)


def _notes_write(request: DismissalRequest, finding_ids: Iterable[int], kind: str, body: str):
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


def dismissal_request_create(
    *,
    team: Team,
    actor,
    finding_ids: Iterable[int],
    status: str,
    reason: str,
    expires_on: datetime.date | None = None,
    filter_query: str = "",
) -> DismissalRequest:
    """Ask a second person to set the findings to ``status`` (ignored or false positive).

    Findings already waiting in another request are left out; nothing changes in Kolega or
    the mirror until the request is approved.
    """
    require_role(team=team, user=actor, role=Role.TRIAGER)
    if not is_dismissal(status):
        raise ServiceError("Only ignored and false positive need approval.", field="status")
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("Give a reason for the approver.", field="reason")
    if expires_on is not None:
        if status != FindingStatus.IGNORED:
            raise ServiceError(
                "Only an ignored finding can come back by itself; a false positive has no "
                "expiry date.",
                field="expires_on",
            )
        if expires_on <= today():
            raise ServiceError("The expiry date must be in the future.", field="expires_on")
    findings = list(
        Finding.objects.filter(team=team, pk__in=list(finding_ids)).values_list("pk", "status")
    )
    if not findings:
        raise ServiceError("Select at least one finding.")
    if len(findings) > MAX_JOB_ITEMS:
        raise ServiceError(
            f"One request may cover at most {MAX_JOB_ITEMS:,} findings; narrow the filters."
        )
    policy = approval_policy_for(team)
    with transaction.atomic():
        # One pending request per finding: concurrent requests for the same findings queue
        # behind this lock on the team's policy row.
        if policy.pk:
            TeamApprovalPolicy.objects.select_for_update().filter(pk=policy.pk).first()
        waiting = set(
            DismissalRequestItem.objects.filter(
                request__status=Status.PENDING,
                request__team=team,
                finding_id__in=[pk for pk, _ in findings],
            ).values_list("finding_id", flat=True)
        )
        findings = [(pk, previous) for pk, previous in findings if pk not in waiting]
        if not findings:
            raise ServiceError("These findings are already waiting for a dismissal decision.")
        request = DismissalRequest.objects.create(
            team=team,
            requested_by=actor,
            requested_status=status,
            reason=reason,
            expires_on=expires_on,
            required_approvals=policy.required_approvals,
            filter_query=filter_query[:2000],
            total=len(findings),
        )
        DismissalRequestItem.objects.bulk_create(
            [
                DismissalRequestItem(request=request, finding_id=pk, previous_status=previous)
                for pk, previous in findings
            ],
            batch_size=1000,
        )
        until = f" until {expires_on:%d %b %Y}" if expires_on else ""
        _notes_write(
            request,
            [pk for pk, _ in findings],
            Kind.DISMISSAL_REQUESTED,
            f"{actor.get_username()} asked to set {_label(status)}{until}: {reason}",
        )
        audit_log(
            team=team,
            actor=actor,
            action="dismissal.request",
            target=request,
            details={
                "status": status,
                "findings": len(findings),
                "skipped_waiting": len(waiting),
                "reason": reason,
                "expires_on": expires_on.isoformat() if expires_on else None,
            },
        )
        transaction.on_commit(
            lambda: approvers_email(
                team=team,
                requested_by_id=actor.pk,
                subject=f"Dismissal requested: {len(findings)} finding(s) to {_label(status)}",
                message=(
                    f"{actor.get_username()} asks to set {len(findings)} finding(s) to "
                    f"{_label(status)}{until}.\n\nReason: {reason}\n\n"
                    "Decide in the portal's Approvals queue."
                ),
            )
        )
    request.skipped = len(waiting)
    return request


def dismissal_decide(
    *, request: DismissalRequest, actor, approve: bool, comment: str = ""
) -> DismissalRequest:
    """Approve or reject; the last approval needed starts applying the status in Kolega."""
    membership = require_role(team=request.team, user=actor, role=Role.APPROVER)
    with transaction.atomic():
        request = (
            DismissalRequest.objects.select_for_update(of=("self",))
            .select_related("team")
            .get(pk=request.pk)
        )
        if request.status != Status.PENDING:
            raise ServiceError(f"This request is already {request.get_status_display().lower()}.")
        four_eyes_check(
            team=request.team,
            requested_by_id=request.requested_by_id,
            actor=actor,
            membership=membership,
            what="dismissal",
        )
        if approve and request.expires_on is not None and request.expires_on <= today():
            raise ServiceError("Its expiry date has passed; reject it and ask again.")
        if request.decisions.filter(approver=actor).exists():
            raise ServiceError("You have already decided on this request.")
        DismissalDecision.objects.create(
            request=request,
            approver=actor,
            decision=DismissalDecision.Decision.APPROVE
            if approve
            else DismissalDecision.Decision.REJECT,
            comment=comment.strip(),
        )
        approvals = request.decisions.filter(decision=DismissalDecision.Decision.APPROVE).count()
        if not approve:
            request.status = Status.REJECTED
        elif approvals >= request.required_approvals:
            request.status = Status.APPROVED
        if request.status != Status.PENDING:
            request.decided_at = timezone.now()
        request.save(update_fields=["status", "decided_at"])
        audit_log(
            team=request.team,
            actor=actor,
            action="dismissal.approve" if approve else "dismissal.reject",
            target=request,
            details={
                "comment": comment,
                "approvals": approvals,
                "required": request.required_approvals,
            },
        )
        finding_ids = list(request.items.values_list("finding_id", flat=True))
        if request.status == Status.REJECTED:
            suffix = f": {comment.strip()}" if comment.strip() else ""
            _notes_write(
                request,
                finding_ids,
                Kind.DISMISSAL_REJECTED,
                f"{actor.get_username()} rejected the dismissal to "
                f"{_label(request.requested_status)}{suffix}",
            )
        elif request.status == Status.APPROVED:
            # The approver's own role (approver includes triager) sends the status; each
            # finding's outcome, rate limits and audit are the status job's.
            job = finding_status_job_create(
                team=request.team,
                actor=actor,
                finding_ids=finding_ids,
                status=request.requested_status,
                comment=f"Dismissal request {request.pk}: {request.reason}",
                filter_query=request.filter_query,
                dismissal_approved=True,
            )
            request.apply_job = job
            request.save(update_fields=["apply_job"])
    return request


def dismissal_cancel(*, request: DismissalRequest, actor) -> DismissalRequest:
    """The requester (or an admin) withdraws a request nobody has decided yet."""
    membership = require_role(team=request.team, user=actor, role=Role.TRIAGER)
    with transaction.atomic():
        request = DismissalRequest.objects.select_for_update(of=("self",)).get(pk=request.pk)
        if request.status != Status.PENDING:
            raise ServiceError(f"This request is already {request.get_status_display().lower()}.")
        if request.requested_by_id != actor.pk and membership.role != Role.ADMIN:
            raise ServiceError("Only the person who asked, or an admin, can cancel it.")
        request.status = Status.CANCELLED
        request.decided_at = timezone.now()
        request.save(update_fields=["status", "decided_at"])
        _notes_write(
            request,
            request.items.values_list("finding_id", flat=True),
            Kind.DISMISSAL_CANCELLED,
            f"{actor.get_username()} withdrew the dismissal to {_label(request.requested_status)}",
        )
        audit_log(team=request.team, actor=actor, action="dismissal.cancel", target=request)
    return request


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
        _notes_write(
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
    _notes_write(
        request,
        accepted,
        Kind.DISMISSAL_APPLIED,
        f"Set to {_label(request.requested_status)}{until}, approved by {approvers}: "
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


def dismissals_expire(*, on: datetime.date | None = None) -> list[DismissalRequest]:
    """Reopen the findings of applied ``ignored`` dismissals whose expiry date has come.

    Each request is moved to expired under a row lock in the same transaction that records
    its reopening job, so a second run (or two workers) finds nothing left to do. Findings
    someone has since set to another status are left as they are.
    """
    on = on or today()
    due = list(
        DismissalRequest.objects.filter(
            status=Status.APPLIED,
            requested_status=FindingStatus.IGNORED,
            expires_on__lte=on,
        ).values_list("pk", flat=True)
    )
    expired = []
    for pk in due:
        with transaction.atomic():
            request = (
                DismissalRequest.objects.select_for_update(of=("self",), skip_locked=True)
                .select_related("team")
                .filter(pk=pk, status=Status.APPLIED)
                .first()
            )
            if request is None:
                continue
            still_ignored = list(
                request.items.filter(
                    applied=True, finding__status=FindingStatus.IGNORED
                ).values_list("finding_id", flat=True)
            )
            request.status = Status.EXPIRED
            request.expired_at = timezone.now()
            if still_ignored:
                request.reopen_job = finding_status_job_create(
                    team=request.team,
                    actor=SYSTEM,
                    finding_ids=still_ignored,
                    status="open",
                    comment=(
                        f"Dismissal request {request.pk} expired on {request.expires_on:%d %b %Y}"
                    ),
                )
            request.save(update_fields=["status", "expired_at", "reopen_job"])
            audit_log(
                team=request.team,
                actor=SYSTEM,
                action="dismissal.expire",
                target=request,
                details={
                    "expires_on": request.expires_on.isoformat(),
                    "reopening": len(still_ignored),
                },
            )
            expired.append(request)
    return expired
