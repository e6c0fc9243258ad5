"""Services record their writes with `audit_log`, defined beside the audit model so that the
syncs, below the services, record theirs with the same function."""

from triage.models.audit import audit_log, audit_log_each

__all__ = ["audit_export_record", "audit_log", "audit_log_each"]


def audit_export_record(*, team, actor, filters: dict) -> None:
    """An export of the log is itself a read worth recording: who took a copy, of what."""
    from triage.models import Role
    from triage.services.teams import require_role

    require_role(team=team, user=actor, role=Role.ADMIN)
    audit_log(
        team=team,
        actor=actor,
        action="audit.export",
        target_label="Audit log",
        details={"filters": {key: value for key, value in filters.items() if value}},
    )
