"""Who signs in through single sign-on, and the team memberships their groups give them.

A user is found by the provider's issuer and subject; the first sign-in creates them from the
claims (just in time). At every sign-in their memberships follow their groups: for each team the
highest role any of their mapped groups gives; a membership from groups that no group gives any
more is revoked, and one given by hand is left alone. All of it happens in one transaction, so a
refused sign-in creates nothing.
"""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from triage.models import GroupRoleMapping, Membership, MembershipSource, Role, SsoIdentity
from triage.models.audit import audit_log
from triage.models.ownership import OWNER_ROLE
from triage.services.errors import ServiceError
from triage.sync.ownership import owners_release

logger = logging.getLogger(__name__)

MAX_GROUPS = 500
MAX_GROUP_LENGTH = 150


class SignInFailed(Exception):
    """Single sign-on could not sign someone in. `reason` names the explanation the failure
    page shows (``views.sso.FAILURE_MESSAGES``); `detail` is for the log and never holds a
    token or a secret."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def groups_of(claims: dict, groups_claim: str) -> list[str]:
    """The group names in the claim: a list of strings, or one string; anything else is none."""
    value = claims.get(groups_claim)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    names = [item for item in value if isinstance(item, str) and 0 < len(item) <= MAX_GROUP_LENGTH]
    return sorted(set(names))[:MAX_GROUPS]


def roles_for_groups(groups: list[str]) -> dict[int, tuple[str, list[str]]]:
    """Team id → (the highest role the groups give there, the groups giving it)."""
    roles: dict[int, tuple[str, list[str]]] = {}
    for mapping in GroupRoleMapping.objects.filter(group__in=groups).order_by("group"):
        role, granted_by = roles.get(mapping.team_id, (None, []))
        if role is None or Role(mapping.role).rank > Role(role).rank:
            role, granted_by = mapping.role, [mapping.group]
        elif mapping.role == role:
            granted_by = [*granted_by, mapping.group]
        roles[mapping.team_id] = (role, granted_by)
    return roles


def group_mappings_of(groups: list[str]) -> dict[str, list[GroupRoleMapping]]:
    """For a profile page: each group and the team roles it maps to (none: an empty list)."""
    by_group: dict[str, list[GroupRoleMapping]] = {group: [] for group in groups}
    for mapping in GroupRoleMapping.objects.filter(group__in=groups).select_related("team"):
        by_group[mapping.group].append(mapping)
    return by_group


def sign_in(*, issuer: str, claims: dict, groups_claim: str):
    """The user the verified claims name, created or updated, with memberships set from the
    groups. Raises `SignInFailed` and changes nothing when the claims cannot sign anyone in."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise SignInFailed("claims", "no usable subject")
    email = claims.get("email") if isinstance(claims.get("email"), str) else ""
    if len(email) > 254:
        raise SignInFailed("claims", "the e-mail address is too long")
    groups = groups_of(claims, groups_claim)
    roles = roles_for_groups(groups)
    user_model = get_user_model()
    with transaction.atomic():
        identity = (
            SsoIdentity.objects.select_for_update()
            .select_related("user")
            .filter(issuer=issuer, subject=subject)
            .first()
        )
        if identity is None:
            if not email:
                raise SignInFailed("claims", "no e-mail address for a new user")
            if user_model.objects.filter(email__iexact=email).exists():
                raise SignInFailed("email_taken", "a user has that e-mail address already")
            if not roles:
                raise SignInFailed("no_group", "no group of a new user is mapped")
            user = _create_user(claims, email)
            identity = SsoIdentity(user=user, issuer=issuer, subject=subject)
            audit_log(
                team=None,
                actor=user,
                action="user.sso_create",
                target=user,
                target_label=user.get_username(),
                details={"issuer": issuer, "subject": subject},
            )
            logger.info("single sign-on created user %s", user.pk)
        else:
            user = identity.user
            if not user.is_active:
                raise SignInFailed("inactive", f"user {user.pk} is inactive")
            if email and email.casefold() != user.email.casefold():
                if user_model.objects.filter(email__iexact=email).exclude(pk=user.pk).exists():
                    raise SignInFailed("email_taken", "another user has the new e-mail address")
                user.email = email
                user.save(update_fields=["email"])
        identity.groups = groups
        identity.last_sign_in_at = timezone.now()
        identity.save()
        _follow_groups(user=user, roles=roles)
    if not Membership.objects.filter(user=user).exists():
        # Memberships the groups no longer give are revoked above; with none left the user
        # has nothing to see.
        raise SignInFailed("no_group", f"user {user.pk} has no membership left")
    return user


def _create_user(claims: dict, email: str):
    user_model = get_user_model()
    base = claims.get("preferred_username")
    if not isinstance(base, str) or not base.strip():
        base = email.split("@", 1)[0]
    base = "".join(ch for ch in base.strip() if ch.isalnum() or ch in "@.+-_")[:140] or "user"
    name = claims.get("name") if isinstance(claims.get("name"), str) else ""
    for attempt in range(1, 50):
        username = base if attempt == 1 else f"{base}-{attempt}"
        if user_model.objects.filter(username__iexact=username).exists():
            continue
        try:
            with transaction.atomic():
                user = user_model(username=username, email=email, first_name=name[:150])
                user.set_unusable_password()
                user.save()
                return user
        except IntegrityError:
            continue
    raise SignInFailed("claims", "no free user name")


def _follow_groups(*, user, roles: dict[int, tuple[str, list[str]]]) -> None:
    memberships = {
        membership.team_id: membership
        for membership in Membership.objects.select_for_update()
        .select_related("team")
        .filter(user=user)
    }
    for team_id, (role, granted_by) in sorted(roles.items()):
        membership = memberships.get(team_id)
        if membership is None:
            membership = Membership.objects.create(
                team_id=team_id, user=user, role=role, source=MembershipSource.SSO
            )
            _audit(membership, "member.sso_grant", role=role, previous=None, groups=granted_by)
        elif membership.source == MembershipSource.SSO and membership.role != role:
            previous = membership.role
            membership.role = role
            membership.save(update_fields=["role"])
            _audit(
                membership,
                "member.sso_role_change",
                role=role,
                previous=previous,
                groups=granted_by,
            )
            if not membership.has_role(OWNER_ROLE):
                owners_release(team_id=team_id, user_id=user.pk)
    for team_id, membership in memberships.items():
        if membership.source == MembershipSource.SSO and team_id not in roles:
            _audit(membership, "member.sso_revoke", role=None, previous=membership.role, groups=[])
            membership.delete()
            owners_release(team_id=team_id, user_id=user.pk)


def _audit(membership, action: str, *, role, previous, groups: list[str]) -> None:
    audit_log(
        team=membership.team if membership.team_id else None,
        actor=membership.user,
        action=action,
        target=membership,
        target_label=membership.user.get_username(),
        details={"role": role, "previous_role": previous, "groups": groups},
    )


def group_mapping_set(*, group: str, team, role: str, actor) -> GroupRoleMapping:
    """Map an identity-provider group to a team role (an operator's command; the Django admin
    records its own changes the same way)."""
    group = group.strip()
    if not group or len(group) > MAX_GROUP_LENGTH:
        raise ServiceError(f"A group name has 1 to {MAX_GROUP_LENGTH} characters.")
    role = Role(role)
    with transaction.atomic():
        mapping, created = GroupRoleMapping.objects.update_or_create(
            group=group, team=team, defaults={"role": role}
        )
        audit_log(
            team=team,
            actor=actor,
            action="group_mapping.create" if created else "group_mapping.change",
            target=mapping,
            details={"group": group, "role": role},
        )
    return mapping
