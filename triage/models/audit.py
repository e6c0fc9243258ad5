"""The audit trail, and the one function that writes to it.

Writing an entry is a primitive below every layer that writes (services, and the syncs that
invalidate a connection), so none of them imports another to record what it did.
"""

from collections.abc import Iterable
from typing import Any

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


class SystemActor:
    """The actor of writes made by the portal itself or by an operator's management command."""

    is_authenticated = False

    def get_username(self) -> str:
        return "system"


SYSTEM = SystemActor()


def audit_log(
    *,
    team: Team | None,
    actor,
    action: str,
    target: models.Model | None = None,
    target_label: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record one write. Call it inside the transaction of the write it records."""
    return AuditEvent.objects.create(
        team=team,
        action=action,
        details=details or {},
        **_actor_columns(actor),
        **_target_columns(target, target_label),
    )


def audit_log_each(
    *, team: Team, actor, action: str, entries: Iterable[tuple[models.Model, dict[str, Any]]]
) -> int:
    """Record one write made to many objects, an entry per object (``entries``: the object
    and its details), in a few INSERTs. Call it inside the transaction of the write."""
    who = _actor_columns(actor)
    events = [
        AuditEvent(team=team, action=action, details=details, **who, **_target_columns(target))
        for target, details in entries
    ]
    AuditEvent.objects.bulk_create(events, batch_size=1000)
    return len(events)


def _actor_columns(actor) -> dict[str, Any]:
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    return {"actor": actor_obj, "actor_label": actor_obj.get_username() if actor_obj else "system"}


def _target_columns(target: models.Model | None, label: str = "") -> dict[str, str]:
    return {
        "target_type": target._meta.model_name if target is not None else "",
        "target_id": str(target.pk) if target is not None else "",
        "target_label": label or (str(target) if target is not None else ""),
    }
