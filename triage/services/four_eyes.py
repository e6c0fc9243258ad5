"""The two-person rule shared by both approval workflows: fix approvals (which gate pull
requests, `triage.services.approvals`) and dismissal requests (`triage.services.dismissals`).

Both are the same state machine: a request is pending until an approver other than its
requester decides; a reject rejects it, and it is approved once it has as many approvals as
the team's policy asked for when it was made. Each workflow adds its own states around that
(a fix approval is voided by a refine; an approved dismissal is applied, then may expire).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import models, transaction
from django.utils import timezone

from triage.models import DISMISSAL_STATUSES, Membership, Role, Team, TeamApprovalPolicy
from triage.models.audit import audit_log
from triage.services.errors import ServiceError
from triage.services.teams import require_role

logger = logging.getLogger("triage.approvals")

# The states the two-person rule moves a request between; each workflow's `Status` has them.
PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
APPROVE, REJECT = "approve", "reject"


def approval_policy_for(team: Team) -> TeamApprovalPolicy:
    """The team's policy, or the default one (unsaved). A team a team view resolved comes
    with it (no query)."""
    try:
        return team.approval_policy
    except TeamApprovalPolicy.DoesNotExist:
        return TeamApprovalPolicy(team=team)


def approval_policy_set(
    *,
    team: Team,
    actor,
    required_approvals: int,
    admins_may_self_approve: bool,
    dismissals_require_approval: bool | None = None,
    open_pull_requests_on_approval: bool | None = None,
) -> TeamApprovalPolicy:
    """Save the team's policy; an optional setting given as None keeps what it is."""
    require_role(team=team, user=actor, role=Role.ADMIN)
    if required_approvals not in (1, 2):
        raise ServiceError("A pull request needs one or two approvals.")
    with transaction.atomic():
        policy, _ = TeamApprovalPolicy.objects.select_for_update(of=("self",)).get_or_create(
            team=team
        )
        policy.required_approvals = required_approvals
        policy.admins_may_self_approve = admins_may_self_approve
        previous_dismissals = policy.dismissals_require_approval
        previous_opening = policy.open_pull_requests_on_approval
        if dismissals_require_approval is not None:
            policy.dismissals_require_approval = dismissals_require_approval
        if open_pull_requests_on_approval is not None:
            policy.open_pull_requests_on_approval = open_pull_requests_on_approval
        policy.save()
        audit_log(
            team=team,
            actor=actor,
            action="approval_policy.update",
            target=policy,
            details={
                "required_approvals": required_approvals,
                "admins_may_self_approve": admins_may_self_approve,
                "dismissals_require_approval": policy.dismissals_require_approval,
                "dismissals_require_approval_before": previous_dismissals,
                "open_pull_requests_on_approval": policy.open_pull_requests_on_approval,
                "open_pull_requests_on_approval_before": previous_opening,
            },
        )
    policy.team = team  # the caller's team reads the saved policy from now on
    return policy


def dismissals_need_approval(team: Team) -> bool:
    return approval_policy_for(team).dismissals_require_approval


def is_dismissal(status: str) -> bool:
    return status in DISMISSAL_STATUSES


def status_needs_approval(team: Team, status: str) -> bool:
    """Whether setting `status` in this team must go through a `DismissalRequest`."""
    return is_dismissal(status) and dismissals_need_approval(team)


def approvers_email(
    *, request: models.Model, subject: str, asks_to: str, note: str, closing: str
) -> None:
    """Tell the team's approvers (but the requester) that ``request`` waits ("<requester> asks
    to <asks_to>.", the requester's note, then where to decide), when email is configured; a
    mail server that fails is logged, never raised."""
    if not getattr(settings, "EMAIL_HOST", "") and "locmem" not in settings.EMAIL_BACKEND:
        return
    team = request.team
    recipients = [
        m.user.email
        for m in Membership.objects.filter(
            team=team, role__in=[Role.APPROVER, Role.ADMIN]
        ).select_related("user")
        if m.user.email and m.user_id != request.requested_by_id
    ]
    if not recipients:
        return
    asker = request.requested_by.get_username()
    try:
        send_mail(
            subject=f"[{team.name}] {subject}",
            message=f"{asker} asks to {asks_to}.\n\n{note}\n\n{closing}",
            from_email=None,
            recipient_list=recipients,
        )
    except OSError:
        logger.warning("could not email the approvers of team %s", team.pk, exc_info=True)


def four_eyes_allows(*, team: Team, requested_by_id: int | None, actor, membership) -> bool:
    """Whether the actor may decide on a request: anyone but its requester, and the
    requester only as an admin of a team whose policy lets admins approve their own."""
    if requested_by_id != actor.pk:
        return True
    return (
        membership is not None
        and membership.role == Role.ADMIN
        and approval_policy_for(team).admins_may_self_approve
    )


def four_eyes_check(
    *, team: Team, requested_by_id: int | None, actor, membership: Membership | None, what: str
) -> None:
    """Refuse a decision `four_eyes_allows` does not allow (every request needing a second
    person)."""
    if not four_eyes_allows(
        team=team, requested_by_id=requested_by_id, actor=actor, membership=membership
    ):
        raise ServiceError(f"A second person must decide: you asked for this {what}.")


def decision_refusal(*, request: models.Model, actor, membership: Membership | None, what: str):
    """Why the actor may not decide on the request now, or None when they may. Pages offer
    the decision form by it and the services refuse by it (`decision_check`)."""
    if request.status != PENDING:
        return f"This request is already {request.get_status_display().lower()}."
    if membership is None or not membership.has_role(Role.APPROVER):
        return "Deciding needs the Approver role."
    if request.requested_by_id == actor.pk and not four_eyes_allows(
        team=request.team,
        requested_by_id=request.requested_by_id,
        actor=actor,
        membership=membership,
    ):
        return f"A second person must decide: you asked for this {what}."
    if any(decision.approver_id == actor.pk for decision in request.decisions.all()):
        return "You have already decided on this request."
    return None


def may_decide(*, request: models.Model, actor, membership: Membership | None) -> bool:
    return decision_refusal(request=request, actor=actor, membership=membership, what="") is None


def decision_check(*, request: models.Model, actor, membership: Membership | None, what: str):
    refusal = decision_refusal(request=request, actor=actor, membership=membership, what=what)
    if refusal is not None:
        raise ServiceError(refusal)


def request_still_pending(request: models.Model) -> None:
    """Refuse to act on a request somebody already decided (or withdrew)."""
    if request.status != PENDING:
        raise ServiceError(f"This request is already {request.get_status_display().lower()}.")


def decision_record(
    *,
    request: models.Model,
    actor,
    approve: bool,
    comment: str = "",
    workflow: str,
    target: models.Model | None = None,
    details: dict | None = None,
    **fields,
) -> int:
    """Record the actor's decision on a pending request held under its row lock, and move the
    request on: rejected by a reject, approved by the last approval it needs.

    The audit entry is ``<workflow>.approve`` or ``<workflow>.reject`` on ``target`` (else the
    request), the workflow's ``details`` first. Answers the number of approvals the request
    now has; ``fields`` are the workflow's own on the decision (the diff's hash)."""
    if request.decisions.filter(approver=actor).exists():
        raise ServiceError("You have already decided on this request.")
    decision = APPROVE if approve else REJECT
    request.decisions.create(approver=actor, decision=decision, comment=comment.strip(), **fields)
    approvals = request.decisions.filter(decision=APPROVE).count()
    if not approve:
        request.status = REJECTED
    elif approvals >= request.required_approvals:
        request.status = APPROVED
    if request.status != PENDING:
        request.decided_at = timezone.now()
    request.save(update_fields=["status", "decided_at"])
    audit_log(
        team=request.team,
        actor=actor,
        action=f"{workflow}.{decision}",
        target=target or request,
        details={
            **(details or {}),
            "comment": comment,
            "approvals": approvals,
            "required": request.required_approvals,
        },
    )
    return approvals
