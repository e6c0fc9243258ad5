"""Finding events: the organization-wide feed clients poll incrementally."""

from datetime import datetime
from typing import Any

from sandbox import clock
from sandbox.models import Finding, FindingEvent, ScanBatch


def finding_event_build(
    *,
    finding: Finding,
    event_type: str,
    at: datetime,
    previous_status: str | None = None,
    new_status: str | None = None,
    scan_batch: ScanBatch | None = None,
    metadata: dict[str, Any] | None = None,
    actor_user_id: str | None = None,
) -> FindingEvent:
    """An unsaved event describing ``finding`` as it is now (callers bulk-create them)."""
    return FindingEvent(
        organization_id=finding.organization_id,
        repository_id=finding.repository_id,
        finding=finding,
        scan_batch=scan_batch,
        scan_type=finding.scan_type,
        event_type=event_type,
        previous_status=previous_status,
        new_status=new_status,
        severity=finding.severity,
        check_id=finding.check_id,
        file_path=finding.file_path,
        actor_user_id=actor_user_id,
        metadata=metadata or {},
        event_timestamp=at,
        created_at=clock.now(),
    )
