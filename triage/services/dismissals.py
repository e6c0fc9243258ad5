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
from django.utils import timezone

from triage.models import (
    DismissalRequest,
    DismissalRequestItem,
    Finding,
    FindingStatus,
    Role,
    Team,
    TeamApprovalPolicy,
)
from triage.services.audit import audit_log
from triage.services.dismissal_notes import (
    Kind,
    Status,
    notes_write,
    status_label,
    today,
)
from triage.services.errors import ServiceError
from triage.services.findings import MAX_JOB_ITEMS, finding_status_job_create
from triage.services.four_eyes import (
    approval_policy_for,
    approvers_email,
    decision_check,
    decision_record,
    is_dismissal,
)

# Pages find the dismissal rule here, where the workflow is.
from triage.services.four_eyes import dismissals_need_approval as dismissals_need_approval
from triage.services.four_eyes import status_needs_approval as status_needs_approval
from triage.services.notification_schedule import dismissal_expired_tell
from triage.services.teams import SYSTEM, require_role

logger = logging.getLogger("triage.dismissals")


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
    reason = (reason or "").strip()
    _request_check(status=status, reason=reason, expires_on=expires_on)
    findings = _findings_to_dismiss(team=team, finding_ids=finding_ids)
    policy = approval_policy_for(team)
    with transaction.atomic():
        # One pending request per finding: concurrent requests for the same findings queue
        # behind this lock on the team's policy row.
        if policy.pk:
            TeamApprovalPolicy.objects.select_for_update().filter(pk=policy.pk).first()
        waiting = _findings_waiting(team=team, finding_pks=[pk for pk, _ in findings])
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
        _request_record(request, actor=actor, skipped=len(waiting))
    request.skipped = len(waiting)
    return request


def _request_check(*, status: str, reason: str, expires_on: datetime.date | None) -> None:
    if not is_dismissal(status):
        raise ServiceError("Only ignored and false positive need approval.", field="status")
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


def _findings_to_dismiss(*, team: Team, finding_ids: Iterable[int]) -> list[tuple[int, str]]:
    """(key, current status) of the team's findings among `finding_ids`."""
    findings = list(
        Finding.objects.filter(team=team, pk__in=list(finding_ids)).values_list("pk", "status")
    )
    if not findings:
        raise ServiceError("Select at least one finding.")
    if len(findings) > MAX_JOB_ITEMS:
        raise ServiceError(
            f"One request may cover at most {MAX_JOB_ITEMS:,} findings; narrow the filters."
        )
    return findings


def _findings_waiting(*, team: Team, finding_pks: list[int]) -> set[int]:
    """The findings among `finding_pks` already in a pending request."""
    return set(
        DismissalRequestItem.objects.filter(
            request__status=Status.PENDING, request__team=team, finding_id__in=finding_pks
        ).values_list("finding_id", flat=True)
    )


def _request_record(request: DismissalRequest, *, actor, skipped: int) -> None:
    """The new request's notes on its findings, its audit entry, and (once committed) the
    approvers' email."""
    status, reason, expires_on, count = (
        request.requested_status,
        request.reason,
        request.expires_on,
        request.total,
    )
    until = f" until {expires_on:%d %b %Y}" if expires_on else ""
    notes_write(
        request,
        request.items.values_list("finding_id", flat=True),
        Kind.DISMISSAL_REQUESTED,
        f"{actor.get_username()} asked to set {status_label(status)}{until}: {reason}",
    )
    audit_log(
        team=request.team,
        actor=actor,
        action="dismissal.request",
        target=request,
        details={
            "status": status,
            "findings": count,
            "skipped_waiting": skipped,
            "reason": reason,
            "expires_on": expires_on.isoformat() if expires_on else None,
        },
    )
    transaction.on_commit(
        lambda: approvers_email(
            request=request,
            subject=f"Dismissal requested: {count} finding(s) to {status_label(status)}",
            asks_to=f"set {count} finding(s) to {status_label(status)}{until}",
            note=f"Reason: {reason}",
            closing="Decide in the portal's Approvals queue.",
        )
    )


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
        decision_check(request=request, actor=actor, membership=membership, what="dismissal")
        if approve and request.expires_on is not None and request.expires_on <= today():
            raise ServiceError("Its expiry date has passed; reject it and ask again.")
        decision_record(
            request=request, actor=actor, approve=approve, comment=comment, workflow="dismissal"
        )
        if request.status == Status.REJECTED:
            _rejected_note(request, actor=actor, comment=comment)
        elif request.status == Status.APPROVED:
            _apply_start(request, actor=actor)
    return request


def _rejected_note(request: DismissalRequest, *, actor, comment: str) -> None:
    suffix = f": {comment.strip()}" if comment.strip() else ""
    notes_write(
        request,
        request.items.values_list("finding_id", flat=True),
        Kind.DISMISSAL_REJECTED,
        f"{actor.get_username()} rejected the dismissal to "
        f"{status_label(request.requested_status)}{suffix}",
    )


def _apply_start(request: DismissalRequest, *, actor) -> None:
    """Send the approved status through a status job: the approver's own role (approver
    includes triager) sends it; each finding's outcome, rate limits and audit are the job's."""
    request.apply_job = finding_status_job_create(
        team=request.team,
        actor=actor,
        finding_ids=list(request.items.values_list("finding_id", flat=True)),
        status=request.requested_status,
        comment=f"Dismissal request {request.pk}: {request.reason}",
        filter_query=request.filter_query,
        dismissal_approved=True,
    )
    request.save(update_fields=["apply_job"])


def dismissal_cancel_refusal(*, request: DismissalRequest, actor, membership) -> str | None:
    """Why the actor may not withdraw the request, or None: the page offers "Cancel the
    request" by it."""
    if request.status != Status.PENDING:
        return f"This request is already {request.get_status_display().lower()}."
    if membership is None or not membership.has_role(Role.TRIAGER):
        return "Withdrawing a request needs the Triager role."
    if request.requested_by_id != actor.pk and not membership.has_role(Role.ADMIN):
        return "Only the person who asked, or an admin, can cancel it."
    return None


def dismissal_cancel(*, request: DismissalRequest, actor) -> DismissalRequest:
    """The requester (or an admin) withdraws a request nobody has decided yet."""
    membership = require_role(team=request.team, user=actor, role=Role.TRIAGER)
    with transaction.atomic():
        request = DismissalRequest.objects.select_for_update(of=("self",)).get(pk=request.pk)
        refusal = dismissal_cancel_refusal(request=request, actor=actor, membership=membership)
        if refusal is not None:
            raise ServiceError(refusal)
        request.status = Status.CANCELLED
        request.decided_at = timezone.now()
        request.save(update_fields=["status", "decided_at"])
        notes_write(
            request,
            request.items.values_list("finding_id", flat=True),
            Kind.DISMISSAL_CANCELLED,
            f"{actor.get_username()} withdrew the dismissal to "
            f"{status_label(request.requested_status)}",
        )
        audit_log(team=request.team, actor=actor, action="dismissal.cancel", target=request)
    return request


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
            dismissal_expired_tell(request, reopening=len(still_ignored))
            expired.append(request)
    return expired
