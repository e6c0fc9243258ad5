"""Live tracking of an active scan batch or fix: one poll of `/progress` per step.

A step stores the progress on the mirror row, so pages show it without calling Kolega. Once
the batch or fix is terminal the step fetches what it produced: the batch's results and
findings, or the fix itself (with its pull requests) and its diff. Steps are idempotent;
`tracking_chain_step` runs one and says when the next is due, and the `track_scan_batch` and
`track_fix` tasks in `triage/tasks.py` chain them.

No countdown comes near the broker's visibility timeout: tracking polls every few seconds and
keeps its state (`next_poll_at`, `polls`) in the database, not in a long-delayed message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from triage import kolega
from triage.clients import kolega_client_for
from triage.models import Fix, KolegaConnection, ScanBatch
from triage.models.mirror import (
    fix_status_is_settled,
    scan_status_is_terminal,
)
from triage.sync import rows
from triage.sync.full import repository_pks_for
from triage.sync.runs import connection_mark_invalid

logger = logging.getLogger("triage.sync.tracking")

# What `tracking_chain_step` answers when no further step is due; any other answer is the
# ISO time of the next step's `poll_due`.
CHAIN_ENDS = ("gone", "superseded", "finished", "gave up")


class TrackingStopped(Exception):
    """The thing cannot be tracked any more (connection invalid, gone upstream)."""


def _client_for(connection: KolegaConnection) -> kolega.KolegaClient:
    connection.refresh_from_db(fields=["state", "state_reason"])
    if not connection.is_active:
        raise TrackingStopped(f"connection {connection.pk} is {connection.state}")
    return kolega_client_for(connection)


def _stop_on_auth(connection: KolegaConnection, exc: kolega.KolegaError) -> None:
    if isinstance(exc, kolega.KolegaAuthError) and exc.status_code == 401:
        connection_mark_invalid(connection, exc)
    raise TrackingStopped(str(exc)) from exc


def scan_batch_track_step(*, batch: ScanBatch) -> bool:
    """Poll the batch once; answer True when it is terminal and its findings are mirrored."""
    connection = batch.connection
    repository_id = batch.repository.upstream_id
    with _client_for(connection) as client:
        try:
            progress = client.get_scan_progress(
                repository_id=repository_id, scan_id=batch.upstream_id
            )
            with transaction.atomic():
                rows.scan_progress_store(batch=batch, progress=progress)
            if not scan_status_is_terminal(progress.status):
                return False
            results = client.get_scan_results(
                repository_id=repository_id, scan_id=batch.upstream_id
            )
            ScanBatch.objects.filter(pk=batch.pk).update(
                results_findings_count=results.findings_count
            )
            if batch.findings_synced_at is None:
                scan_batch_findings_fetch(client=client, batch=batch)
        except (kolega.KolegaAuthError, kolega.KolegaNotFound) as exc:
            _stop_on_auth(connection, exc)
    return True


def scan_batch_findings_fetch(*, client: kolega.KolegaClient, batch: ScanBatch) -> int:
    """Upsert the findings a finished batch reported and link them to it, page by page."""
    connection = batch.connection
    pks = repository_pks_for(connection)
    written = 0
    for page in kolega.iter_pages(
        client.list_findings,
        repository_id=batch.repository.upstream_id,
        scan_batch_id=batch.upstream_id,
    ):
        with transaction.atomic():
            result = rows.findings_write(
                connection=connection, findings=page.items, repository_pks=pks
            )
            rows.scan_batch_findings_link(scan_batch_pk=batch.pk, finding_pks=result.pks.values())
        written += result.rows
    batch.findings_synced_at = timezone.now()
    ScanBatch.objects.filter(pk=batch.pk).update(findings_synced_at=batch.findings_synced_at)
    return written


def fix_track_step(*, fix: Fix) -> bool:
    """Poll the fix's heartbeat once; answer True when it has settled and its diff is stored."""
    connection = fix.connection
    repository_id = fix.repository.upstream_id
    with _client_for(connection) as client:
        try:
            progress = client.get_fix_progress(repository_id=repository_id, fix_id=fix.upstream_id)
            with transaction.atomic():
                rows.fix_progress_store(fix=fix, progress=progress)
            if not fix_status_is_settled(progress.status):
                return False
            current = client.get_fix(repository_id=repository_id, fix_id=fix.upstream_id)
            with transaction.atomic():
                rows.fixes_write(
                    connection=connection,
                    fixes=[current],
                    repository_pks={current.repository_id: fix.repository_id},
                )
            fix.refresh_from_db()
            if fix.needs_diff:
                diff = client.get_fix_diff(repository_id=repository_id, fix_id=fix.upstream_id)
                rows.fix_diff_store(fix=fix, diff=diff)
        except (kolega.KolegaAuthError, kolega.KolegaNotFound) as exc:
            _stop_on_auth(connection, exc)
    return True


def scan_batch_mirror(*, connection: KolegaConnection, batch: kolega.ScanBatch) -> ScanBatch:
    """Mirror a batch Kolega just answered (e.g. after starting it); answer the row to track."""
    with transaction.atomic():
        written = rows.scan_batches_write(
            connection=connection, batches=[batch], repository_pks=repository_pks_for(connection)
        )
    return ScanBatch.objects.select_related("repository", "connection").get(
        pk=written.pks[batch.batch_id]
    )


def fix_mirror(*, connection: KolegaConnection, fix: kolega.Fix) -> Fix:
    """Mirror a fix Kolega just answered (created, refined, cancelled); answer the row."""
    with transaction.atomic():
        written = rows.fixes_write(
            connection=connection, fixes=[fix], repository_pks=repository_pks_for(connection)
        )
    return Fix.objects.select_related("repository", "connection").get(pk=written.pks[fix.id])


def track_poll_seconds() -> int:
    return int(getattr(settings, "PORTAL_TRACK_POLL_SECONDS", 5))


def track_max_polls() -> int:
    """A day of polling; a batch or fix still active after that is left to the syncs."""
    return max(1, 24 * 3600 // track_poll_seconds())


def _untracked() -> Q:
    stale = timezone.now() - timedelta(seconds=track_poll_seconds() * 6)
    return Q(next_poll_at__isnull=True) | Q(next_poll_at__lt=stale)


def scan_batches_untracked(*, connection_id: int) -> QuerySet[ScanBatch]:
    """Active batches with no tracker alive (never started, or its chain died with a worker)."""
    return ScanBatch.objects.active().filter(connection_id=connection_id).filter(_untracked())


def fixes_untracked(*, connection_id: int) -> QuerySet[Fix]:
    """Unsettled fixes with no tracker alive."""
    return Fix.objects.unsettled().filter(connection_id=connection_id).filter(_untracked())


def tracking_chain_step(
    model: type[models.Model], pk: int, poll_due: str | None, step: Callable[..., bool]
) -> str:
    """Run one tracking step and say when the next is due, unless another chain owns the row.

    A chain owns the row while `next_poll_at` equals the time it scheduled; a tracker started
    afresh (no `poll_due`) takes the row over and the older chain ends at its next step.
    Answers one of `CHAIN_ENDS`, or the ISO time the next step is due.
    """
    row = model.objects.select_related("connection", "repository").filter(pk=pk).first()
    if row is None:
        return "gone"
    if poll_due is not None and (
        row.next_poll_at is None or row.next_poll_at != datetime.fromisoformat(poll_due)
    ):
        return "superseded"
    try:
        finished = step(row)
    except TrackingStopped as exc:
        logger.info("stopped tracking %s %s: %s", model.__name__, pk, exc)
        finished = True
    if finished or row.polls + 1 >= track_max_polls():
        model.objects.filter(pk=pk).update(next_poll_at=None)
        return "finished" if finished else "gave up"
    due = timezone.now() + timedelta(seconds=track_poll_seconds())
    model.objects.filter(pk=pk).update(next_poll_at=due, polls=row.polls + 1)
    return due.isoformat()
