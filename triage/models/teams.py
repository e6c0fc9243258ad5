from django.conf import settings
from django.db import models


class Role(models.TextChoices):
    """Team roles, each including the rights of the ones before it."""

    VIEWER = "viewer", "Viewer"
    TRIAGER = "triager", "Triager"
    APPROVER = "approver", "Approver"
    ADMIN = "admin", "Admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def includes(self, other: "Role") -> bool:
        return self.rank >= Role(other).rank


class Team(models.Model):
    """The portal's tenant: members, Kolega connections and everything mirrored from them."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=50, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Members who sign in with a local password need a confirmed authenticator app to open
    # the team's pages; single sign-on users are left to their identity provider's MFA.
    require_totp = models.BooleanField(
        default=False, verbose_name="Members need an authenticator app"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TeamOwnedModel(models.Model):
    """A row of one team's portal state (not of the mirror), stamped when it was made. Listed
    newest first where the model's Meta extends this one's; a Meta of its own keeps its order."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]


class MembershipSource(models.TextChoices):
    """How a membership came to be: given by hand (an admin, an invitation) or by single
    sign-on, where the identity provider's groups decide it at every sign-in."""

    MANUAL = "manual", "Given by hand"
    SSO = "sso", "From identity-provider groups"


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    source = models.CharField(
        max_length=8, choices=MembershipSource.choices, default=MembershipSource.MANUAL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="membership_unique_team_user")
        ]
        ordering = ["team__name"]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} as {self.role}"

    def has_role(self, role: Role | str) -> bool:
        return Role(self.role).includes(Role(role))


class UserPreference(models.Model):
    """Per-user display preferences; times are stored in UTC and shown in this time zone."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference"
    )
    timezone = models.CharField(max_length=64, default="UTC")

    def __str__(self) -> str:
        return f"{self.user}: {self.timezone}"


class Invitation(models.Model):
    """An admin's invitation to join a team with a role, sent by email as a link.

    Only a hash of the link's token is stored; the token itself is derived from the row's
    ``salt`` and the portal's secret key (see ``services.teams.invitation_token``), so the mail
    task, which takes the id, can write the link while the table alone opens nothing.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    salt = models.CharField(max_length=64)
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    email_sent_at = models.DateTimeField(null=True, blank=True)
    email_error = models.CharField(max_length=300, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["team", "email"], name="invitation_team_email")]

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.team}"

    def state(self, now) -> str:
        """One of pending, accepted, revoked, expired."""
        if self.accepted_at is not None:
            return "accepted"
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "pending"

    STATE_LABELS = {
        "pending": "Waiting",
        "accepted": "Accepted",
        "revoked": "Revoked",
        "expired": "Expired",
    }
