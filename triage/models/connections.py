from django.db import models

from triage.encryption import EncryptedSecretField
from triage.models.teams import Team

DEFAULT_KOLEGA_BASE_URL = "https://api.kolega.dev"


class KolegaConnection(models.Model):
    """One Kolega organization connected to a team with an organization API key."""

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        DISABLED = "disabled", "Disabled"
        INVALID = "invalid", "Key rejected"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="connections")
    name = models.CharField(max_length=100)
    base_url = models.URLField(max_length=300, default=DEFAULT_KOLEGA_BASE_URL)
    # Encrypted at rest; shown only as key_prefix, never logged or rendered.
    api_key = EncryptedSecretField()
    key_id = models.CharField(max_length=100, blank=True)
    key_name = models.CharField(max_length=200, blank=True)
    key_prefix = models.CharField(max_length=40, blank=True)
    scopes = models.JSONField(default=list, blank=True)
    organization_id = models.CharField(max_length=100)
    organization_name = models.CharField(max_length=200, blank=True)
    organization_slug = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    state_reason = models.CharField(max_length=300, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="connection_unique_team_name"),
            models.UniqueConstraint(
                fields=["team", "base_url", "organization_id"],
                name="connection_unique_team_organization",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.organization_name or self.organization_id})"

    @property
    def is_active(self) -> bool:
        return self.state == self.State.ACTIVE

    @property
    def can_write(self) -> bool:
        return "write" in (self.scopes or [])
