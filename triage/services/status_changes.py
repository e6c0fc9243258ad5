"""Changing findings' status, the one place that decides which way a change goes.

While the team's approval policy asks for it, ignored and false positive go through a
`DismissalRequest` (a second person decides); every other change, and every change in a team
that does not ask, goes to Kolega directly (one finding) or through a bulk status job (many).
Pages ask `status_needs_approval` (in `triage.services.four_eyes`) to say which it will be.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from triage.models import DismissalRequest, Finding, FindingStatusJob, Team
from triage.services.dismissals import dismissal_request_create
from triage.services.findings import finding_status_job_create, finding_status_set
from triage.services.four_eyes import status_needs_approval


@dataclass(frozen=True)
class StatusChange:
    """What a change became: a dismissal request waiting for a decision, a bulk status job,
    or (one finding) the finding as Kolega now has it."""

    dismissal: DismissalRequest | None = None
    job: FindingStatusJob | None = None
    finding: Finding | None = None


def finding_status_change(
    *,
    team: Team,
    actor,
    finding: Finding,
    status: str,
    reason: str = "",
    expires_on: datetime.date | None = None,
    comment: str = "",
) -> StatusChange:
    """Set one finding's status (``comment`` says why), or ask for it to be dismissed (the
    reason given, else the comment, is the approver's reason)."""
    if not status_needs_approval(team, status):
        return StatusChange(
            finding=finding_status_set(
                team=team, actor=actor, finding=finding, status=status, comment=comment
            )
        )
    # Asking for one finding to be dismissed is asking for many, with one id.
    return findings_status_change(
        team=team,
        actor=actor,
        finding_ids=[finding.pk],
        status=status,
        comment=comment,
        reason=reason,
        expires_on=expires_on,
    )


def findings_status_change(
    *,
    team: Team,
    actor,
    finding_ids: Iterable[int],
    status: str,
    comment: str = "",
    reason: str = "",
    expires_on: datetime.date | None = None,
    filter_query: str = "",
) -> StatusChange:
    """Set many findings' status by a bulk status job, or ask for them to be dismissed (the
    reason given, else the comment, is the approver's reason)."""
    if status_needs_approval(team, status):
        return StatusChange(
            dismissal=dismissal_request_create(
                team=team,
                actor=actor,
                finding_ids=finding_ids,
                status=status,
                reason=reason or comment,
                expires_on=expires_on,
                filter_query=filter_query,
            )
        )
    return StatusChange(
        job=finding_status_job_create(
            team=team,
            actor=actor,
            finding_ids=finding_ids,
            status=status,
            comment=comment,
            filter_query=filter_query,
        )
    )
