from django.conf import settings
from django.db import models

from triage.models.teams import Team


class AuditEvent(models.Model):
    """One write made through the portal: who did what to which object, and when."""

    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, related_name="audit_events", null=True, blank=True
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    # Kept when the user is deleted so the trail still names them.
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=100, blank=True)
    target_label = models.CharField(max_length=300, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["team", "-created_at"], name="audit_team_created"),
            models.Index(fields=["team", "action"], name="audit_team_action"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.target_label}"
