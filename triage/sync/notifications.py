"""The events the syncs tell: a scan batch that became terminal, the findings a sync
brought that the mirror did not hold before (one summary per sync run, never one message per
finding), a connection whose syncs keep failing and a key Kolega rejected.

Each is recorded in the outbox (`notification_record`) in the transaction that writes the
change, under a dedupe key: a batch settles once, a run summarises once, so a re-sync or a
retried tracking step records nothing new.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings

from triage.models import Fix, KolegaConnection, ScanBatch, ScanBatchStatus, SyncState
from triage.models.mirror import scan_status_is_terminal
from triage.models.notifications import SEVERITY_ORDER, EventKind, notification_record


def scan_batch_settled(*, batch: ScanBatch, previous_status: str | None) -> None:
    """Record "scan batch finished/failed" when `batch` went from active to terminal.

    A batch first seen already terminal (an old batch on a connection's first sync) tells
    nothing: only a change the portal saw happen is news.
    """
    if previous_status is None or scan_status_is_terminal(previous_status):
        return
    if not scan_status_is_terminal(batch.status):
        return
    failed = batch.status.lower() == ScanBatchStatus.FAILED
    notification_record(
        team_id=batch.team_id,
        event_kind=EventKind.SCAN_FAILED if failed else EventKind.SCAN_FINISHED,
        dedupe_key=f"scan-batch:{batch.pk}:settled",
        data={
            "scan_batch": {
                "pk": batch.pk,
                "id": batch.upstream_id,
                "repository": batch.repository.name,
                "scan_type": batch.scan_type,
                "scan_type_label": batch.scan_type_label,
                "status": batch.status,
                "scans_completed": batch.scans_completed,
                "scans_failed": batch.scans_failed,
                "findings_count": batch.results_findings_count,
                "error_message": batch.error_message or "",
            }
        },
    )


def fix_ready_tell(*, fix: Fix) -> None:
    """Record "fix ready for review" when a diff of a finished fix run is stored: once per
    diff (a refine that brings another diff is news again, a re-sync of the same one is not).

    Nothing on a connection's first sync: the fixes it finds finished are history, not news.
    """
    if not fix.diff or not fix.diff_sha256:
        return
    if not SyncState.objects.filter(
        connection_id=fix.connection_id, last_success_at__isnull=False
    ).exists():
        return
    notification_record(
        team_id=fix.team_id,
        event_kind=EventKind.FIX_READY,
        dedupe_key=f"fix:{fix.pk}:ready:{fix.diff_sha256}",
        data={
            "fix": {
                "pk": fix.pk,
                "id": fix.upstream_id,
                "title": fix.title,
                "repository": fix.repository.name,
                "findings_count": len(fix.finding_ids or []),
                "diff_sha256": fix.diff_sha256,
            }
        },
    )


def scan_batches_settled(*, batch_pks: Iterable[int], previous: dict[int, str]) -> None:
    """`scan_batch_settled` for each written batch the mirror held before as active."""
    watched = [
        pk for pk in batch_pks if pk in previous and not scan_status_is_terminal(previous[pk])
    ]
    if not watched:
        return
    for batch in ScanBatch.objects.filter(pk__in=watched).select_related("repository"):
        scan_batch_settled(batch=batch, previous_status=previous[batch.pk])


def findings_new_summary(
    *, team_id: int, run_pk: int, connection_name: str, by_severity: Counter, since_date: str
) -> None:
    """Record one "new findings" summary of a sync run, with counts by severity."""
    total = sum(by_severity.values())
    if not total:
        return
    worst = next((str(level) for level in SEVERITY_ORDER if by_severity.get(str(level))), "")
    notification_record(
        team_id=team_id,
        event_kind=EventKind.FINDINGS_NEW,
        dedupe_key=f"sync-run:{run_pk}:findings-new",
        severity=worst,
        data={
            "sync_run": run_pk,
            "connection": connection_name,
            "total": total,
            "by_severity": {key: count for key, count in by_severity.items() if count},
            "since_date": since_date,
        },
    )


def sync_failing_after() -> int:
    """How many failed syncs in a row make a connection "failing": one failure is often a
    passing outage the retries absorb."""
    return int(getattr(settings, "PORTAL_NOTIFY_SYNC_FAILING_AFTER", 3))


def connection_streak_record(
    *,
    connection: KolegaConnection,
    event_kind: str,
    last_success_at: datetime | None,
    **data: object,
) -> None:
    """Record an event of `connection`'s failure streak, once per streak. A streak is named by
    its connection and the last sync that succeeded before it: every failed run and retry of
    one streak shares the key, the next streak has another."""
    since = last_success_at.isoformat() if last_success_at else "never"
    notification_record(
        team_id=connection.team_id,
        event_kind=event_kind,
        dedupe_key=f"connection:{connection.pk}:streak-after:{since}:{event_kind}",
        data={
            "connection": {"pk": connection.pk, "name": connection.name},
            "last_success_at": last_success_at.isoformat() if last_success_at else None,
            **data,
        },
    )


def sync_failing_tell(
    *,
    connection: KolegaConnection,
    failures: int,
    last_success_at: datetime | None,
    error: str,
) -> None:
    """Record "sync failing" once per failure streak, when it reaches `sync_failing_after()`
    failures in a row; further failures and retries of the streak record nothing."""
    if failures < sync_failing_after():
        return
    connection_streak_record(
        connection=connection,
        event_kind=EventKind.SYNC_FAILING,
        last_success_at=last_success_at,
        failures=failures,
        error=error,
    )


def key_rejected_tell(
    *, connection: KolegaConnection, last_success_at: datetime | None, reason: str
) -> None:
    """Record "key rejected" when Kolega answers 401 and the connection is stopped: once per
    failure streak, however many syncs and tracking steps saw the 401."""
    connection_streak_record(
        connection=connection,
        event_kind=EventKind.KEY_REJECTED,
        last_success_at=last_success_at,
        reason=reason,
    )
