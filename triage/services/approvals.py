"""The approval workflow that gates pull requests, and opening them exactly once.

State machine of a `FixApproval`: pending → approved | rejected; pending | approved → voided
(a refine changed the diff). Opening pull requests, a `PullRequestOpening` unique per
(fix, diff): pending → sending → opened | failed | unknown; failed → pending (a safe retry,
nothing was opened); unknown → opened | failed only after re-reading the fix from Kolega.
Only the worker that moves a row from pending to sending, under a row lock, sends the POST.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from triage import kolega
from triage.clients import kolega_client_for
from triage.models import (
    Fix,
    FixApproval,
    FixStatus,
    Membership,
    PullRequestOpening,
    Role,
    label_of,
)
from triage.services.approval_notifications import approval_decided_tell, approval_requested_tell
from triage.services.audit import audit_log
from triage.services.errors import ServiceError
from triage.services.fixes import REFINABLE_STATUSES, diff_sha256_of, diff_version_capture
from triage.services.four_eyes import (
    approval_policy_for,
    approvers_email,
    decision_check,
    decision_record,
    may_decide,
    request_still_pending,
)

# The policy and the two-person rule are shared with dismissals; pages and tests still find
# them here.
from triage.services.four_eyes import approval_policy_set as approval_policy_set
from triage.services.four_eyes import four_eyes_allows as four_eyes_allows
from triage.services.kolega_errors import describe_kolega_error
from triage.services.teams import SYSTEM, require_role
from triage.sync.rows import fix_approval_void, fix_approvals_void_for_other_diff, fix_diff_store
from triage.sync.tracking import fix_mirror
from triage.task_queue import TaskName, task_send

logger = logging.getLogger("triage.approvals")

# A lost answer is matched to pull requests Kolega created from a little before it was sent.
CLOCK_SKEW = timedelta(seconds=60)
# A POST still "sending" after this long lost its worker; its outcome must be looked up.
SENDING_STALE_AFTER = timedelta(minutes=5)
DIFF_PENDING_MESSAGE = (
    "A newer diff of this fix is pending; review it and ask for approval again once it is in."
)


@dataclass(frozen=True)
class FixActions:
    """What a person may do with a fix now: the fix page offers exactly these, and the
    services refuse the rest by the same rules."""

    request_approval: bool
    decide: bool
    refine: bool
    open_pull_requests: bool


def fix_actions(
    *,
    fix: Fix,
    approval: FixApproval | None,
    opening: PullRequestOpening | None,
    actor,
    membership: Membership | None,
) -> FixActions:
    """`approval` and `opening` are the fix's latest (the page shows them)."""
    triager = membership is not None and membership.has_role(Role.TRIAGER)
    open_approval = (
        approval if approval is not None and approval.status in FixApproval.OPEN_STATUSES else None
    )
    return FixActions(
        request_approval=triager
        and approval_request_refusal(fix=fix, open_approval=open_approval) is None,
        decide=approval is not None
        and may_decide(request=approval, actor=actor, membership=membership),
        refine=triager and fix.status.lower() in REFINABLE_STATUSES,
        open_pull_requests=triager
        and pull_requests_open_refusal(fix=fix, approval=approval) is None
        and opening_needs_sending(opening),
    )


def approval_request_refusal(*, fix: Fix, open_approval: FixApproval | None) -> str | None:
    """Why approval cannot be asked for the fix's diff now, or None."""
    if fix.status.lower() not in REFINABLE_STATUSES:
        return f"Only a completed fix can be approved (it is {fix.status_label})."
    if fix.needs_diff or not fix.diff_sha256:
        return "The fix's diff has not been fetched yet; wait a moment."
    if open_approval is not None:
        return "This fix already has an approval request."
    return None


def pull_requests_open_refusal(*, fix: Fix, approval: FixApproval | None) -> str | None:
    """Why the fix's pull requests cannot be opened now, or None."""
    if approval is None or approval.status != FixApproval.Status.APPROVED:
        return "Pull requests need an approved request first."
    if fix.status.lower() not in REFINABLE_STATUSES:
        return f"Pull requests need a completed fix (it is {fix.status_label})."
    if fix.diff_sha256 != approval.diff_sha256:
        return "The diff changed after it was approved; ask for approval again."
    if fix.needs_diff:
        return DIFF_PENDING_MESSAGE
    return None


def opening_needs_sending(opening: PullRequestOpening | None) -> bool:
    """Whether asking to open pull requests would queue a send (or a reconcile): none asked
    yet, failed, of unknown outcome, or sending for so long its worker must have died."""
    if opening is None:
        return True
    if opening.status in (PullRequestOpening.Status.FAILED, PullRequestOpening.Status.UNKNOWN):
        return True
    return (
        opening.status == PullRequestOpening.Status.SENDING
        and opening.sent_at is not None
        and opening.sent_at < timezone.now() - SENDING_STALE_AFTER
    )


def approval_request(
    *,
    fix: Fix,
    actor,
    note: str = "",
    pr_title: str = "",
    pr_body: str = "",
    pr_branch: str = "",
) -> FixApproval:
    """Ask for approval to open pull requests for the diff the fix has now."""
    require_role(team=fix.team, user=actor, role=Role.TRIAGER)
    with transaction.atomic():
        fix = Fix.objects.select_for_update(of=("self",)).get(pk=fix.pk)
        refusal = approval_request_refusal(
            fix=fix,
            open_approval=FixApproval.objects.filter(
                fix=fix, status__in=FixApproval.OPEN_STATUSES
            ).first(),
        )
        if refusal is None and not fix.diff:  # the text itself, which pages do not load
            refusal = "The fix's diff has not been fetched yet; wait a moment."
        if refusal is not None:
            raise ServiceError(refusal)
        diff_version_capture(fix=fix)
        policy = approval_policy_for(fix.team)
        try:
            with transaction.atomic():
                approval = FixApproval.objects.create(
                    team_id=fix.team_id,
                    fix=fix,
                    requested_by=actor,
                    note=note.strip(),
                    pr_title=pr_title.strip(),
                    pr_body=pr_body.strip(),
                    pr_branch=pr_branch.strip(),
                    diff_sha256=fix.diff_sha256,
                    required_approvals=policy.required_approvals,
                )
        except IntegrityError:
            raise ServiceError("This fix already has an approval request.") from None
        audit_log(
            team=fix.team,
            actor=actor,
            action="approval.request",
            target=fix,
            details={"approval": approval.pk, "diff_sha256": fix.diff_sha256, "note": note},
        )
        approval_requested_tell(approval)
        transaction.on_commit(lambda: _notify_approvers(approval.pk))
    return approval


def _notify_approvers(approval_id: int) -> None:
    approval = FixApproval.objects.select_related("fix", "team", "requested_by").get(pk=approval_id)
    approvers_email(
        request=approval,
        subject=f"Approval requested: {approval.fix.title}",
        asks_to=f"open pull requests for the fix “{approval.fix.title}”",
        note=approval.note,
        closing="Review the diff in the portal's Approvals queue.",
    )


def approval_decide(
    *, approval: FixApproval, actor, approve: bool, comment: str = ""
) -> FixApproval:
    """Approve or reject. The last approval needed opens the pull requests when the team's
    policy says so; otherwise the fix stays approved until someone opens them
    (`pull_requests_open`). A failure to open leaves the approval as it is."""
    membership = require_role(team=approval.team, user=actor, role=Role.APPROVER)
    fix = _approval_void_if_diff_changed(approval=approval, actor=actor, membership=membership)
    with transaction.atomic():
        approval = (
            FixApproval.objects.select_for_update(of=("self",))
            .select_related("team")
            .get(pk=approval.pk)
        )
        request_still_pending(approval)
        decision_record(
            request=approval,
            actor=actor,
            approve=approve,
            comment=comment,
            workflow="approval",
            target=fix,
            details={"approval": approval.pk, "diff_sha256": approval.diff_sha256},
            diff_sha256=approval.diff_sha256,
        )
        approval.fix = fix
        approval_decided_tell(approval, decided_by=actor, comment=comment)
    if (
        approval.status == FixApproval.Status.APPROVED
        and approval_policy_for(approval.team).open_pull_requests_on_approval
    ):
        pull_requests_open(fix=fix, actor=actor)
    return approval


def _approval_void_if_diff_changed(*, approval: FixApproval, actor, membership) -> Fix:
    """Check the actor may decide on the pending approval; void it (and refuse) when the fix
    was refined since it was asked for. Answers the fix."""
    with transaction.atomic():
        approval = (
            FixApproval.objects.select_for_update(of=("self",))
            .select_related("fix__team", "team")
            .get(pk=approval.pk)
        )
        fix = approval.fix
        decision_check(request=approval, actor=actor, membership=membership, what="approval")
        if fix.diff_sha256 == approval.diff_sha256:
            return fix
        fix_approval_void(approval, fix=fix, actor=actor, reason="diff changed")
    raise ServiceError("The diff changed since approval was requested; ask again.")


def pull_requests_open(*, fix: Fix, actor) -> PullRequestOpening:
    """Ask for the approved diff's pull requests to be opened (queued; idempotent).

    A second call for the same diff finds the existing opening and sends nothing; a failed
    opening is put back to pending; an opening of unknown outcome is reconciled first.
    """
    require_role(team=fix.team, user=actor, role=Role.TRIAGER)
    with transaction.atomic():
        approval = (
            FixApproval.objects.select_for_update(of=("self",))
            .filter(fix_id=fix.pk, status=FixApproval.Status.APPROVED)
            .first()
        )
        fix = Fix.objects.get(pk=fix.pk)
        refusal = pull_requests_open_refusal(fix=fix, approval=approval)
        if refusal is not None:
            raise ServiceError(refusal)
        opening, created = PullRequestOpening.objects.select_for_update(of=("self",)).get_or_create(
            fix=fix,
            diff_sha256=approval.diff_sha256,
            defaults={"team_id": fix.team_id, "approval": approval},
        )
        # A failed opening is sent again; one of unknown outcome, or stuck sending, is looked
        # up by the task first (reconciled): it never sends blindly.
        queue = created or opening_needs_sending(opening)
        if opening.status == PullRequestOpening.Status.FAILED:
            opening.status = PullRequestOpening.Status.PENDING
            opening.error_message = ""
            opening.save(update_fields=["status", "error_message", "updated_at"])
        if queue:
            audit_log(
                team=fix.team,
                actor=actor,
                action="pull_requests.open_requested",
                target=fix,
                details={"opening": opening.pk, "diff_sha256": opening.diff_sha256},
            )
            opening_pk = opening.pk
            transaction.on_commit(lambda: task_send(TaskName.OPEN_PULL_REQUESTS, opening_pk))
    return opening


def pull_request_opening_send(*, opening_id: int) -> PullRequestOpening:
    """Send the POST for a pending opening, once; reconcile an opening of unknown outcome."""
    with transaction.atomic():
        opening = (
            PullRequestOpening.objects.select_for_update(of=("self",))
            .select_related("approval")
            .filter(pk=opening_id)
            .first()
        )
        if opening is None:
            raise ServiceError("No such opening.")
        stale_before = timezone.now() - SENDING_STALE_AFTER
        if opening.status == PullRequestOpening.Status.UNKNOWN:
            reconcile = True
        elif opening.status == PullRequestOpening.Status.SENDING and (
            opening.sent_at is None or opening.sent_at < stale_before
        ):
            # The worker that sent it died before recording the answer: look, never resend.
            reconcile = True
        elif opening.status != PullRequestOpening.Status.PENDING:
            return opening
        else:
            reconcile = False
            opening.status = PullRequestOpening.Status.SENDING
            opening.attempts += 1
            opening.sent_at = timezone.now()
            opening.save(update_fields=["status", "attempts", "sent_at", "updated_at"])
    fix = Fix.objects.select_related("connection", "repository", "team").get(pk=opening.fix_id)
    if reconcile:
        return pull_request_opening_reconcile(opening=opening, fix=fix)
    approval = opening.approval
    try:
        with kolega_client_for(fix.connection) as client:
            refusal = _opening_diff_check(client=client, fix=fix, approval=approval)
            if refusal:
                return _opening_finish(
                    opening, fix, status=PullRequestOpening.Status.FAILED, error=refusal
                )
            created = client.create_pull_requests(
                repository_id=fix.repository.upstream_id,
                fix_id=fix.upstream_id,
                title=approval.pr_title or None,
                body=approval.pr_body or None,
                branch_name=approval.pr_branch or None,
            )
    except kolega.KolegaUnavailable as exc:
        if exc.outcome_unknown:
            return _opening_finish(
                opening,
                fix,
                status=PullRequestOpening.Status.UNKNOWN,
                error=describe_kolega_error(exc)
                + " Kolega may have opened them; the portal checks before trying again.",
            )
        return _opening_finish(
            opening, fix, status=PullRequestOpening.Status.FAILED, error=describe_kolega_error(exc)
        )
    except kolega.KolegaError as exc:
        return _opening_finish(
            opening, fix, status=PullRequestOpening.Status.FAILED, error=describe_kolega_error(exc)
        )
    return _opening_finish(
        opening,
        fix,
        status=PullRequestOpening.Status.OPENED,
        pull_requests=[pr.model_dump(mode="json") for pr in created.pull_requests],
    )


def _opening_diff_check(
    *, client: kolega.KolegaClient, fix: Fix, approval: FixApproval
) -> str | None:
    """Re-read the fix and its diff from Kolega just before the POST; answer why the pull
    requests must not be opened, or None when Kolega holds exactly the approved diff.

    The mirror may be behind Kolega: a refine made in Kolega's own UI or CLI is not seen
    until a sync. A diff other than the approved one voids the approval (the new diff is
    mirrored, which voids it); a refine still running refuses without voiding, since its
    diff is not known yet. Kolega offers no conditional POST, so a refine that completes
    between this read and the POST is not caught here; the next sync voids the approval.
    """
    repository_id = fix.repository.upstream_id
    current = client.get_fix(repository_id=repository_id, fix_id=fix.upstream_id)
    mirrored = fix_mirror(connection=fix.connection, fix=current)
    if current.status.lower() in ("pending", "running"):
        return (
            f"{DIFF_PENDING_MESSAGE} Kolega is running the fix again (it was refined after "
            "approval). Nothing was sent."
        )
    if current.status.lower() not in REFINABLE_STATUSES:
        return (
            f"Kolega shows the fix {label_of(FixStatus, current.status)}, not completed."
            " Nothing was sent."
        )
    diff = client.get_fix_diff(repository_id=repository_id, fix_id=fix.upstream_id)
    digest = diff_sha256_of(diff.diff) if diff.diff is not None else ""
    if digest == approval.diff_sha256:
        return None
    fix_diff_store(fix=mirrored, diff=diff)
    approval.refresh_from_db(fields=["status"])
    if approval.status != FixApproval.Status.VOIDED:
        # Kolega answered the diff the mirror already had; the approval is of another.
        fix_approvals_void_for_other_diff(fix=mirrored, diff_sha256=digest)
    return (
        "Kolega's diff is not the approved one: it changed after approval (approved "
        f"{approval.diff_sha256[:12]}, Kolega has {digest[:12] or 'none'}). Nothing was "
        "sent and the approval no longer counts; review the new diff and ask for approval "
        "again."
    )


def pull_request_opening_reconcile(*, opening: PullRequestOpening, fix: Fix) -> PullRequestOpening:
    """Re-read the fix: pull requests created since the lost POST mean it was opened; none
    mean it was not, and a retry is safe. Kolega unreachable: stay unknown."""
    try:
        with kolega_client_for(fix.connection) as client:
            current = client.get_fix(
                repository_id=fix.repository.upstream_id, fix_id=fix.upstream_id
            )
    except kolega.KolegaUnavailable:
        raise
    except kolega.KolegaError as exc:
        return _opening_finish(
            opening, fix, status=PullRequestOpening.Status.UNKNOWN, error=describe_kolega_error(exc)
        )
    since = (opening.sent_at or opening.created_at) - CLOCK_SKEW
    found = [pr for pr in current.pull_requests if pr.created_at >= since]
    fix_mirror(connection=fix.connection, fix=current)
    if found:
        return _opening_finish(
            opening,
            fix,
            status=PullRequestOpening.Status.OPENED,
            pull_requests=[pr.model_dump(mode="json") for pr in found],
            reconciled=True,
        )
    return _opening_finish(
        opening,
        fix,
        status=PullRequestOpening.Status.FAILED,
        error="The answer to opening the pull requests was lost and Kolega shows none; "
        "retrying is safe.",
        reconciled=True,
    )


def _opening_finish(
    opening: PullRequestOpening,
    fix: Fix,
    *,
    status: str,
    error: str = "",
    pull_requests: list | None = None,
    reconciled: bool = False,
) -> PullRequestOpening:
    if status == PullRequestOpening.Status.OPENED:
        _mirror_after_open(fix)
    with transaction.atomic():
        opening = PullRequestOpening.objects.select_for_update(of=("self",)).get(pk=opening.pk)
        opening.status = status
        opening.error_message = error
        if pull_requests is not None:
            opening.pull_requests = pull_requests
        opening.save(update_fields=["status", "error_message", "pull_requests", "updated_at"])
        audit_log(
            team=fix.team,
            actor=SYSTEM,
            action=f"pull_requests.{status}",
            target=fix,
            details={
                "opening": opening.pk,
                "error": error,
                "pull_requests": [pr.get("pr_url") for pr in (pull_requests or [])],
                "reconciled": reconciled,
            },
        )
    return opening


def _mirror_after_open(fix: Fix) -> None:
    """Bring the new pull requests into the mirror now; the next sync would otherwise."""
    try:
        with kolega_client_for(fix.connection) as client:
            current = client.get_fix(
                repository_id=fix.repository.upstream_id, fix_id=fix.upstream_id
            )
        fix_mirror(connection=fix.connection, fix=current)
    except kolega.KolegaError:
        logger.info("pull requests of fix %s opened; mirrored at the next sync", fix.pk)
