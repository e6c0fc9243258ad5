from typing import Any

from django.db import models

from triage.models import AuditEvent, Team


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
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        team=team,
        actor=actor_obj,
        actor_label=actor_obj.get_username() if actor_obj else "system",
        action=action,
        target_type=target._meta.model_name if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_label=target_label or (str(target) if target is not None else ""),
        details=details or {},
    )
