"""The events of a fix's approval: requested, and decided (approved or rejected).

Each is recorded in the outbox in the transaction that writes the request or the deciding
vote, under a key of the approval: one request, one decision, told once each.
"""

from __future__ import annotations

from triage.models import EventKind, FixApproval
from triage.models.notifications import notification_record


def _approval_data(approval: FixApproval) -> dict:
    fix = approval.fix
    return {
        "approval": {
            "pk": approval.pk,
            "status": approval.status,
            "required_approvals": approval.required_approvals,
            "requested_by": approval.requested_by.username if approval.requested_by else "",
            "note": approval.note,
            "diff_sha256": approval.diff_sha256,
        },
        "fix": {"pk": fix.pk, "id": fix.upstream_id, "title": fix.title},
    }


def _scope(approval: FixApproval) -> dict:
    return {"repository_ids": [approval.fix.repository_id]}


def approval_requested_tell(approval: FixApproval) -> None:
    notification_record(
        team_id=approval.team_id,
        event_kind=EventKind.APPROVAL_REQUESTED,
        dedupe_key=f"fix-approval:{approval.pk}:requested",
        data=_approval_data(approval),
        scope=_scope(approval),
    )


def approval_decided_tell(approval: FixApproval, *, decided_by, comment: str) -> None:
    """Told when the request is settled: by a reject, or by the last approval it needs."""
    if approval.status not in (FixApproval.Status.APPROVED, FixApproval.Status.REJECTED):
        return
    data = _approval_data(approval)
    data["decision"] = {"by": decided_by.username, "comment": comment.strip()}
    notification_record(
        team_id=approval.team_id,
        event_kind=EventKind.APPROVAL_DECIDED,
        dedupe_key=f"fix-approval:{approval.pk}:decided",
        data=data,
        scope=_scope(approval),
    )
