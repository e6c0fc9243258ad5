"""Read side of scan batches: lists, one batch's progress and results, from the mirror only."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, QuerySet

from triage.models import Repository, ScanBatch, ScanBatchFinding, Severity, Team

# The design system has one pill per kind of state; Kolega's finer statuses map onto them.
_STATE_CLASSES = {
    "queued": "queued",
    "pending": "queued",
    "creating_scans": "running",
    "scanning": "running",
    "assessing": "running",
    "running": "running",
    "completed": "completed",
    "succeeded": "completed",
    "partial_failure": "partial_failure",
    "failed": "failed",
    "cancelled": "cancelled",
}


def state_class(status: str) -> str:
    """The `state-*` suffix for a batch or per-repository status; unknown ones look active."""
    return _STATE_CLASSES.get((status or "").lower(), "running")


def decorate_batch(batch: ScanBatch) -> ScanBatch:
    """Attach what templates show but the model does not hold (the pill class)."""
    batch.state_class = state_class(batch.status)
    batch.is_settled = batch_is_settled(batch)
    return batch


def batch_is_settled(batch: ScanBatch) -> bool:
    """Terminal and nothing more to show: its findings are mirrored, or nobody tracks it.

    The tracker stores the terminal status before it fetches the findings; a page that stopped
    polling at the status alone would miss the results.
    """
    return batch.is_terminal and (
        batch.findings_synced_at is not None or batch.next_poll_at is None
    )


def scan_batches_for_team(*, team: Team) -> QuerySet[ScanBatch]:
    return ScanBatch.objects.filter(team=team).select_related("repository", "connection")


def scan_batches_by_ids(*, team: Team, batch_ids: list[int]) -> list[ScanBatch]:
    batches = scan_batches_for_team(team=team).filter(pk__in=batch_ids).order_by("-created_at")
    return [decorate_batch(batch) for batch in batches]


def active_scan_batches(*, team: Team, limit: int = 20) -> list[ScanBatch]:
    batches = (
        ScanBatch.objects.filter(team=team)
        .active()
        .select_related("repository")
        .order_by("-created_at")
    )
    return [decorate_batch(batch) for batch in batches[:limit]]


@dataclass(frozen=True)
class SourceRepoProgress:
    repository: str
    branch: str
    status: str
    state_class: str
    status_reason: str | None
    findings_count: int | None


def batch_source_repos(batch: ScanBatch) -> list[SourceRepoProgress]:
    """One row per source repo, from the last `/progress` the tracker stored."""
    rows = []
    for entry in batch.progress_repositories or []:
        status = str(entry.get("status") or "")
        rows.append(
            SourceRepoProgress(
                repository=str(entry.get("repository") or ""),
                branch=str(entry.get("branch") or ""),
                status=status,
                state_class=state_class(status),
                status_reason=entry.get("status_reason"),
                findings_count=entry.get("findings_count"),
            )
        )
    return rows


@dataclass(frozen=True)
class BatchResults:
    total: int
    by_severity: list[tuple[str, int]]
    by_check: list[tuple[str, str, int]]  # (check id, highest severity seen, count)


def batch_results(*, batch: ScanBatch, check_limit: int = 25) -> BatchResults:
    """Counts by severity and by check of the findings the batch reported (two grouped
    queries over the batch's links, whatever its size)."""
    links = ScanBatchFinding.objects.filter(scan_batch=batch)
    severity_counts = dict(
        links.values_list("finding__severity").annotate(n=Count("id")).order_by()
    )
    ordered = [(s, severity_counts.pop(s)) for s in Severity.values if s in severity_counts]
    ordered += sorted(severity_counts.items())
    by_check = (
        links.values("finding__check_id", "finding__severity")
        .annotate(n=Count("id"))
        .order_by("-n", "finding__check_id")
    )
    checks: dict[str, list] = {}
    for row in by_check:
        check = checks.setdefault(row["finding__check_id"], [row["finding__severity"], 0])
        check[1] += row["n"]
        if _severity_rank(row["finding__severity"]) < _severity_rank(check[0]):
            check[0] = row["finding__severity"]
    top = sorted(checks.items(), key=lambda item: (-item[1][1], item[0]))[:check_limit]
    return BatchResults(
        total=sum(n for _, n in ordered),
        by_severity=ordered,
        by_check=[(check_id, severity, n) for check_id, (severity, n) in top],
    )


def _severity_rank(severity: str) -> int:
    try:
        return Severity.values.index(severity)
    except ValueError:
        return len(Severity.values)


def repositories_for_team(*, team: Team) -> QuerySet[Repository]:
    return (
        Repository.objects.filter(team=team, archived=False)
        .select_related("connection")
        .order_by("name", "id")
    )
