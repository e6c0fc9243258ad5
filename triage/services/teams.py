from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.text import slugify

from triage.models import Membership, MembershipSource, Role, Team
from triage.models.audit import SYSTEM, audit_log
from triage.models.ownership import OWNER_ROLE
from triage.services.errors import RoleRequired, ServiceError
from triage.sync.ownership import owners_release

UNKNOWN_USER_MESSAGE = "No user can be added with that name."


def require_role(*, team: Team, user, role: Role) -> Membership | None:
    """Services check roles too, so a write is refused even when called outside a view."""
    if user is SYSTEM:
        return None
    membership = Membership.objects.filter(team=team, user=user).first() if user else None
    if membership is None or not membership.has_role(role):
        raise RoleRequired(f"This needs the {Role(role).label} role in {team.name}.")
    return membership


def team_get_or_create(*, slug: str, name: str | None = None, actor=None) -> tuple[Team, bool]:
    slug = slugify(slug)
    if not slug:
        raise ServiceError("A team needs a slug of letters, digits and dashes.")
    with transaction.atomic():
        team, created = Team.objects.get_or_create(
            slug=slug, defaults={"name": name or slug.replace("-", " ").title()}
        )
        if created:
            audit_log(team=team, actor=actor, action="team.create", target=team)
    return team, created


def member_set(*, team: Team, actor, username: str, role: Role) -> Membership:
    """Add a user to the team or change their role."""
    require_role(team=team, user=actor, role=Role.ADMIN)
    user = get_user_model().objects.filter(username=username).first()
    with transaction.atomic():
        _lock_admins(team=team)
        membership = (
            Membership.objects.select_for_update().filter(team=team, user=user).first()
            if user is not None
            else None
        )
        previous = membership.role if membership else None
        if membership is None:
            # One answer whatever the reason, so that the form cannot tell an admin which
            # usernames exist in the portal.
            if user is None or not user.is_active:
                raise ServiceError(UNKNOWN_USER_MESSAGE, field="username")
            membership = Membership.objects.create(team=team, user=user, role=role)
        else:
            _refuse_removing_last_admin(team=team, membership=membership, new_role=role)
            membership.role = role
            # A role set by hand stays: the identity provider's groups no longer change it.
            membership.source = MembershipSource.MANUAL
            membership.save(update_fields=["role", "source"])
        audit_log(
            team=team,
            actor=actor,
            action="member.add" if previous is None else "member.role_change",
            target=membership,
            target_label=user.get_username(),
            details={"role": role, "previous_role": previous},
        )
        if not membership.has_role(OWNER_ROLE):
            owners_release(team_id=team.pk, user_id=user.pk)
    return membership


def member_remove(*, team: Team, actor, membership_id: int) -> None:
    require_role(team=team, user=actor, role=Role.ADMIN)
    with transaction.atomic():
        _lock_admins(team=team)
        membership = (
            Membership.objects.select_for_update()
            .select_related("user")
            .filter(team=team, pk=membership_id)
            .first()
        )
        if membership is None:
            raise ServiceError("No such member.")
        _refuse_removing_last_admin(team=team, membership=membership, new_role=None)
        audit_log(
            team=team,
            actor=actor,
            action="member.remove",
            target=membership,
            target_label=membership.user.get_username(),
            details={"role": membership.role},
        )
        membership.delete()
        owners_release(team_id=team.pk, user_id=membership.user_id)


def _lock_admins(*, team: Team) -> None:
    """Lock the team's admin memberships, always in the same order, before any role change.

    Without it two admins demoting each other at once each see the other still an admin,
    and the team is left with none. The second change waits here and then sees the first.
    """
    list(
        Membership.objects.select_for_update()
        .filter(team=team, role=Role.ADMIN)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _refuse_removing_last_admin(*, team: Team, membership: Membership, new_role) -> None:
    if membership.role != Role.ADMIN or new_role == Role.ADMIN:
        return
    admins = Membership.objects.filter(team=team, role=Role.ADMIN).exclude(pk=membership.pk)
    if not admins.exists():
        raise ServiceError("A team keeps at least one admin.")


def sign_in_policy_set(*, team: Team, actor, require_totp: bool) -> Team:
    """Whether the team's members who sign in with a password need an authenticator app."""
    require_role(team=team, user=actor, role=Role.ADMIN)
    with transaction.atomic():
        before = team.require_totp
        team.require_totp = require_totp
        team.save(update_fields=["require_totp"])
        audit_log(
            team=team,
            actor=actor,
            action="sign_in_policy.update",
            target=team,
            details={"require_totp": require_totp, "require_totp_before": before},
        )
    return team
