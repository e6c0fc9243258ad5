"""Read side of ownership: the settings page's squads, rules and progress, and a finding's
owner with whom it may be assigned to."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch

from triage.models import (
    Finding,
    Membership,
    OwnershipEvaluation,
    OwnershipRule,
    Repository,
    Role,
    Squad,
    Team,
)
from triage.models.ownership import OWNER_ROLES


def team_squads(*, team: Team) -> list[Squad]:
    members = Membership.objects.select_related("user").order_by("user__username")
    return list(
        Squad.objects.filter(team=team).prefetch_related(Prefetch("members", queryset=members))
    )


def team_rules(*, team: Team) -> list[OwnershipRule]:
    return list(OwnershipRule.objects.filter(team=team).select_related("squad", "member"))


def team_memberships(*, team: Team) -> list[Membership]:
    return list(
        Membership.objects.filter(team=team).select_related("user").order_by("user__username")
    )


def member_choices(*, team: Team) -> list[tuple[str, str]]:
    return [
        (str(m.pk), f"{m.user.get_username()} ({Role(m.role).label})")
        for m in team_memberships(team=team)
    ]


def owner_choices(*, team: Team) -> list[tuple[str, str]]:
    """A rule's possible owners: the team's squads, then its members who may own findings."""
    squads = [(f"squad:{squad.pk}", f"@{squad.name} (squad)") for squad in team_squads(team=team)]
    members = [
        (f"member:{m.pk}", f"@{m.user.get_username()}")
        for m in team_memberships(team=team)
        if m.role in OWNER_ROLES
    ]
    return squads + members


def repository_choices(*, team: Team) -> list[tuple[str, str]]:
    names = (
        Repository.objects.filter(team=team).order_by("name").values_list("name", flat=True)
    ).distinct()
    return [(name, name) for name in names]


def latest_evaluation(*, team: Team) -> OwnershipEvaluation | None:
    return OwnershipEvaluation.objects.filter(team=team).order_by("-created_at", "-id").first()


@dataclass(frozen=True)
class FindingOwner:
    member_name: str
    squad_name: str
    explicit: bool
    # Members who may be assigned: (user id, username), the team's triagers and above.
    assignable: list[tuple[int, str]]

    @property
    def how(self) -> str:
        if self.explicit:
            return "Assigned"
        if self.member_name or self.squad_name:
            return "By rule"
        return ""


def finding_owner(*, finding: Finding) -> FindingOwner:
    owned = (
        Finding.objects.filter(pk=finding.pk)
        .values_list("owner_member__username", "owner_squad__name", "owner_explicit")
        .first()
    ) or ("", "", False)
    return FindingOwner(
        member_name=owned[0] or "",
        squad_name=owned[1] or "",
        explicit=owned[2],
        assignable=assignable_members(team_id=finding.team_id),
    )


def assignable_members(*, team_id: int) -> list[tuple[int, str]]:
    """Whom the team's findings may be assigned to: (user id, username) of its members at
    least triager, by username."""
    return assignable_of(team_members(team_id=team_id))


def team_members(*, team_id: int) -> list[tuple[int, str, str]]:
    """(user id, username, role) of the team's members, by username: one read for a page
    that offers them as a filter and as assignees."""
    return list(
        Membership.objects.filter(team_id=team_id)
        .order_by("user__username")
        .values_list("user_id", "user__username", "role")
    )


def assignable_of(members: list[tuple[int, str, str]]) -> list[tuple[int, str]]:
    """The members (as `team_members` reads them) findings may be assigned to."""
    return [(user_id, name) for user_id, name, role in members if role in OWNER_ROLES]
