"""Services record their writes with `audit_log`, defined beside the audit model so that the
syncs, below the services, record theirs with the same function."""

from triage.models.audit import audit_log

__all__ = ["audit_log"]
