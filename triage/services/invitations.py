"""Inviting people to a team by email: an admin invites an address with a role, a task mails
the link, the person signs in and accepts, and becomes a member.

The link carries a token derived from the invitation's salt and the portal's secret key; the
database keeps only the token's SHA-256, found by that hash and compared in constant time.
An invitation is used once, expires after PORTAL_INVITATION_DAYS, and can be revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import smtplib
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from triage.models import Invitation, Membership, Role, Team
from triage.models.audit import audit_log
from triage.services.errors import ServiceError
from triage.services.teams import require_role
from triage.task_queue import TaskName, task_send

logger = logging.getLogger("triage.invitations")

UNUSABLE_MESSAGES = {
    "unknown": "This invitation link is not valid. Check that it was copied whole, or ask "
    "a team admin for a new one.",
    "expired": "This invitation has expired. Ask a team admin to invite you again.",
    "revoked": "This invitation was withdrawn by a team admin.",
    "accepted": "This invitation has already been used.",
}


class InvitationUnusable(ServiceError):
    """The link cannot be used; ``reason`` is one of UNUSABLE_MESSAGES' keys."""

    def __init__(self, reason: str):
        super().__init__(UNUSABLE_MESSAGES[reason])
        self.reason = reason


def invitation_token(invitation: Invitation) -> str:
    """The token of the invitation's link (never stored)."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(),
        f"triage.invitation:{invitation.pk}:{invitation.salt}".encode(),
        hashlib.sha256,
    ).hexdigest()
    return f"{invitation.pk}-{digest}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_url(invitation: Invitation) -> str:
    path = reverse("invitation", kwargs={"token": invitation_token(invitation)})
    return f"{settings.PORTAL_BASE_URL}{path}"


def invitation_create(*, team: Team, actor, email: str, role: Role) -> Invitation:
    """Invite ``email`` to ``team`` with ``role``; the email is sent by a task."""
    require_role(team=team, user=actor, role=Role.ADMIN)
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise ServiceError(
            "Enter an email address, such as ana@example.com.", field="email"
        ) from None
    now = timezone.now()
    with transaction.atomic():
        waiting = Invitation.objects.select_for_update().filter(
            team=team,
            email__iexact=email,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=now,
        )
        if waiting.exists():
            raise ServiceError(
                "An invitation to this address is still waiting. Revoke it to send a new one.",
                field="email",
            )
        if Membership.objects.filter(team=team, user__email__iexact=email).exists():
            raise ServiceError("Someone with this address is already a member.", field="email")
        invitation = Invitation.objects.create(
            team=team,
            email=email,
            role=role,
            salt=secrets.token_hex(16),
            token_hash=secrets.token_hex(32),  # replaced below, once the id is known
            expires_at=now + timedelta(days=settings.PORTAL_INVITATION_DAYS),
            invited_by=actor,
        )
        invitation.token_hash = token_hash(invitation_token(invitation))
        invitation.save(update_fields=["token_hash"])
        audit_log(
            team=team,
            actor=actor,
            action="member.invite",
            target=invitation,
            target_label=email,
            details={
                "email": email,
                "role": role,
                "expires_at": invitation.expires_at.isoformat(),
            },
        )
        transaction.on_commit(lambda: task_send(TaskName.SEND_INVITATION_EMAIL, invitation.pk))
    return invitation


def _waiting_invitation(invitations, *, team: Team, invitation_id: int, refusal: str) -> Invitation:
    """The team's invitation ``invitation_id`` while it still waits; else ``refusal``."""
    invitation = invitations.filter(team=team, pk=invitation_id).first()
    if invitation is None:
        raise ServiceError("No such invitation.")
    if invitation.state(timezone.now()) != "pending":
        raise ServiceError(refusal)
    return invitation


def _invitation_audit(*, team: Team, actor, invitation: Invitation, change: str) -> None:
    """The audit entry ``member.invite_<change>`` of a waiting invitation, named by its address."""
    audit_log(
        team=team,
        actor=actor,
        action=f"member.invite_{change}",
        target=invitation,
        target_label=invitation.email,
        details={"email": invitation.email},
    )


def invitation_resend(*, team: Team, actor, invitation_id: int) -> Invitation:
    """Mail a waiting invitation's link again (after a delivery failure, or a lost email)."""
    require_role(team=team, user=actor, role=Role.ADMIN)
    invitation = _waiting_invitation(
        Invitation.objects,
        team=team,
        invitation_id=invitation_id,
        refusal="Only a waiting invitation can be sent again.",
    )
    with transaction.atomic():
        _invitation_audit(team=team, actor=actor, invitation=invitation, change="resend")
        transaction.on_commit(lambda: task_send(TaskName.SEND_INVITATION_EMAIL, invitation.pk))
    return invitation


def invitation_revoke(*, team: Team, actor, invitation_id: int) -> Invitation:
    require_role(team=team, user=actor, role=Role.ADMIN)
    with transaction.atomic():
        invitation = _waiting_invitation(
            Invitation.objects.select_for_update(),
            team=team,
            invitation_id=invitation_id,
            refusal="Only a waiting invitation can be revoked.",
        )
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        _invitation_audit(team=team, actor=actor, invitation=invitation, change="revoke")
    return invitation


def invitation_email_send(*, invitation_id: int) -> str:
    """Mail the link of a waiting invitation; records when it was sent, or why it was not."""
    invitation = (
        Invitation.objects.select_related("team", "invited_by").filter(pk=invitation_id).first()
    )
    if invitation is None:
        return "gone"
    if invitation.state(timezone.now()) != "pending":
        return invitation.state(timezone.now())
    # The link is derived with the current secret key; after a key rotation the stored hash
    # follows it, so a resent link works (one sent before the rotation no longer does).
    current_hash = token_hash(invitation_token(invitation))
    if current_hash != invitation.token_hash:
        invitation.token_hash = current_hash
        invitation.save(update_fields=["token_hash"])
    inviter = invitation.invited_by.get_username() if invitation.invited_by else "A team admin"
    team = invitation.team
    body = (
        f"{inviter} invites you to join the team {team.name} in the Triage Portal "
        f"as {Role(invitation.role).label}.\n\n"
        f"Accept the invitation here (sign in first if you are asked to):\n"
        f"{invitation_url(invitation)}\n\n"
        f"The link works once and expires on {invitation.expires_at:%Y-%m-%d %H:%M} UTC.\n"
        "If you did not expect this email, ignore it.\n"
    )
    try:
        send_mail(
            subject=f"Join {team.name} in the Triage Portal",
            message=body,
            from_email=None,
            recipient_list=[invitation.email],
        )
    except (smtplib.SMTPException, OSError) as exc:
        logger.warning("could not email invitation %s", invitation.pk, exc_info=True)
        invitation.email_error = f"The mail server did not take the email: {exc}"[:300]
        invitation.save(update_fields=["email_error"])
        return "failed"
    invitation.email_sent_at = timezone.now()
    invitation.email_error = ""
    invitation.save(update_fields=["email_sent_at", "email_error"])
    return "sent"


def invitation_for_token(token: str) -> Invitation:
    """The invitation a link's token opens, if it may still be used; else InvitationUnusable."""
    token = token or ""
    if len(token) > 200:
        raise InvitationUnusable("unknown")
    computed = token_hash(token)
    candidate = (
        Invitation.objects.select_related("team", "invited_by").filter(token_hash=computed).first()
    )
    # Found by the hash of the token, never by the token; compared again in constant time.
    if candidate is None or not hmac.compare_digest(candidate.token_hash, computed):
        raise InvitationUnusable("unknown")
    state = candidate.state(timezone.now())
    if state != "pending":
        raise InvitationUnusable(state)
    return candidate


def addressee_mismatch(invitation: Invitation, user) -> str:
    """Why ``user`` may not accept ``invitation`` (it was sent to another address), or ""."""
    if (user.email or "").strip().lower() == invitation.email.strip().lower():
        return ""
    return (
        f"This invitation was sent to {invitation.email}, and you are signed in as "
        f"{user.get_username()}, whose address is {user.email or 'not set'}. Sign in with the "
        "account of that address, or ask a team admin to invite yours."
    )


def invitation_accept(*, token: str, user) -> Membership:
    """The signed-in ``user`` joins the team with the invitation's role; the link is used up.

    Only the addressee may accept: a forwarded or leaked link does not let another account in.
    """
    with transaction.atomic():
        found = invitation_for_token(token)
        invitation = Invitation.objects.select_for_update().get(pk=found.pk)
        state = invitation.state(timezone.now())
        if state != "pending":
            raise InvitationUnusable(state)
        existing = Membership.objects.filter(team=invitation.team, user=user).first()
        if existing is not None:
            raise ServiceError(
                f"You are already a member of {invitation.team.name} "
                f"as {Role(existing.role).label}. The invitation is left for its addressee."
            )
        mismatch = addressee_mismatch(invitation, user)
        if mismatch:
            raise ServiceError(mismatch)
        try:
            with transaction.atomic():
                membership = Membership.objects.create(
                    team=invitation.team, user=user, role=invitation.role
                )
        except IntegrityError:
            raise ServiceError(f"You are already a member of {invitation.team.name}.") from None
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        audit_log(
            team=invitation.team,
            actor=user,
            action="member.invite_accept",
            target=membership,
            target_label=user.get_username(),
            details={"email": invitation.email, "role": invitation.role},
        )
    return membership
