"""Quota balance per organization and billing period (a calendar month, UTC).

Usage is counted from the scan batches and fixes created in the period, so it can never
drift from what was actually created.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from sandbox import clock
from sandbox.errors import quota_exhausted
from sandbox.models import Fix, Organization, Repository, ScanBatch, ScanType

SAST_SCAN_TYPES = (ScanType.SECRETS, ScanType.SEMGREP, ScanType.SBOM)
COUNTER_BY_SCAN_TYPE = {
    ScanType.SECRETS: "sast_scans",
    ScanType.SEMGREP: "sast_scans",
    ScanType.SBOM: "sast_scans",
    ScanType.DEEP_AI: "deep_ai_scans",
}


@dataclass(frozen=True)
class Counter:
    plan: int
    topup: int
    used: int

    @property
    def remaining(self) -> int:
        return max(0, self.plan + self.topup - self.used)


def current_period(at: datetime | None = None) -> tuple[datetime, datetime]:
    at = (at or clock.now()).astimezone(UTC)
    start = datetime(at.year, at.month, 1, tzinfo=UTC)
    end = datetime(at.year + at.month // 12, at.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def quota_counter(*, organization: Organization, counter: str) -> Counter:
    start, end = current_period()
    in_period = {"organization": organization, "created_at__gte": start, "created_at__lt": end}
    if counter == "prs":
        used = Fix.objects.filter(**in_period).count()
    elif counter == "sast_scans":
        used = ScanBatch.objects.filter(scan_type__in=SAST_SCAN_TYPES, **in_period).count()
    elif counter == "deep_ai_scans":
        used = ScanBatch.objects.filter(scan_type=ScanType.DEEP_AI, **in_period).count()
    else:
        raise ValueError(counter)
    return Counter(
        plan=getattr(organization, f"{counter}_plan"),
        topup=getattr(organization, f"{counter}_topup"),
        used=used,
    )


def quota_ensure_available(*, organization: Organization, counter: str) -> None:
    """Raise the upstream 403 when ``counter`` has nothing left this period.

    Callers hold a lock on the organization row so two requests cannot both take the last unit.
    """
    if quota_counter(organization=organization, counter=counter).remaining <= 0:
        raise quota_exhausted(counter)


def quota_balance(*, organization: Organization) -> dict:
    start, end = current_period()
    counters = {
        name: quota_counter(organization=organization, counter=name)
        for name in ("prs", "sast_scans", "deep_ai_scans")
    }
    return {
        "period_start": start,
        "period_end": end,
        **counters,
        "repositories": {
            "max": organization.repositories_max,
            "current": Repository.objects.filter(organization=organization, archived=False).count(),
        },
    }
