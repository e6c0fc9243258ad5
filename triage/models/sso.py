"""Single sign-on: who a user is at the identity provider, and what its groups grant."""

from django.conf import settings
from django.db import models

from triage.models.teams import Role, Team


class GroupRoleMapping(models.Model):
    """An identity-provider group that makes its members members of a team with a role.

    At every sign-in through the provider a user's memberships follow their groups: the
    highest role any of their groups maps to, for each team (``services.sso``).
    """

    group = models.CharField(max_length=150)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="group_mappings")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["group", "team"], name="group_mapping_unique_group_team"
            )
        ]
        ordering = ["group", "team__name"]

    def __str__(self) -> str:
        return f"{self.group} → {self.team} as {self.role}"


class SsoIdentity(models.Model):
    """The account at the identity provider a user signs in with, and the groups it had at the
    last sign-in, so a profile can show why its user has a role."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identity"
    )
    issuer = models.CharField(max_length=300)
    subject = models.CharField(max_length=255)
    groups = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["issuer", "subject"], name="sso_identity_unique_issuer_subject"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} at {self.issuer}"
