"""Invitations as the members page lists them: the latest first, each with its state."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from triage.models import Invitation, Role, Team

LISTED = 50


@dataclass(frozen=True)
class InvitationRow:
    invitation: Invitation
    state: str
    state_label: str
    role_label: str

    @property
    def is_pending(self) -> bool:
        return self.state == "pending"


def team_invitations(*, team: Team) -> list[InvitationRow]:
    now = timezone.now()
    rows = []
    for invitation in Invitation.objects.filter(team=team).select_related(
        "invited_by", "accepted_by"
    )[:LISTED]:
        state = invitation.state(now)
        rows.append(
            InvitationRow(
                invitation=invitation,
                state=state,
                state_label=Invitation.STATE_LABELS[state],
                role_label=Role(invitation.role).label,
            )
        )
    return rows
