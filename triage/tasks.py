"""Celery tasks: thin wrappers that load rows by id and call `triage.sync`.

Every task is safe to run twice: syncs upsert on upstream ids under a per-connection lease,
tracking steps store what Kolega says. Tasks are acknowledged late and re-queued when their
worker dies. Only `KolegaUnavailable` (Kolega down, 5xx, timeouts, 429 beyond what the client
waits) is retried, with exponential backoff; auth, not-found and validation errors are final.
No countdown comes near the broker's visibility timeout: tracking polls every few seconds
and keeps its state (`next_poll_at`, `polls`) in the database, not in a long-delayed message.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from triage.kolega import KolegaUnavailable
from triage.models import Fix, KolegaConnection, ScanBatch, SyncRun, SyncState
from triage.models.mirror import FIX_SETTLED_STATUSES, SCAN_TERMINAL_STATUSES
from triage.sync import (
    TrackingStopped,
    fix_track_step,
    scan_batch_track_step,
    sync_connection_full,
    sync_connection_incremental,
    sync_connection_reconcile,
)
from triage.sync.full import _status_in
from triage.sync.runs import sync_runs_fail_lost

logger = logging.getLogger("triage.tasks")

SYNC_FUNCTIONS = {
    SyncRun.Kind.FULL: sync_connection_full,
    SyncRun.Kind.INCREMENTAL: sync_connection_incremental,
    SyncRun.Kind.RECONCILE: sync_connection_reconcile,
}

RETRY_POLICY = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (KolegaUnavailable,),
    "retry_backoff": 15,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 6,
}


def track_poll_seconds() -> int:
    return int(getattr(settings, "PORTAL_TRACK_POLL_SECONDS", 5))


def track_max_polls() -> int:
    """A day of polling; a batch or fix still active after that is left to the syncs."""
    return max(1, 24 * 3600 // track_poll_seconds())


@shared_task(**RETRY_POLICY)
def sync_connection(
    connection_id: int, kind: str = SyncRun.Kind.INCREMENTAL, run_id: int | None = None
) -> str:
    """Sync one connection; `run_id` names a queued run (from "Sync now") to record it in."""
    connection = KolegaConnection.objects.filter(pk=connection_id).first()
    if connection is None:
        return "connection gone"
    named = SyncRun.objects.filter(pk=run_id).first() if run_id else None
    # A retry of a "Sync now" whose first attempt failed is recorded as a new run, started
    # by the same person's request, not by the schedule.
    run = named if named is not None and named.status == SyncRun.Status.QUEUED else None
    trigger = named.trigger if named is not None else SyncRun.Trigger.SCHEDULE
    run = SYNC_FUNCTIONS[SyncRun.Kind(kind)](connection=connection, trigger=trigger, run=run)
    tracking_resume(connection_id=connection.pk)
    if run.retryable_error is not None:
        raise run.retryable_error
    return run.status


@shared_task(acks_late=True, reject_on_worker_lost=True)
def sync_due_connections() -> int:
    """Beat, every PORTAL_SYNC_INTERVAL_SECONDS: an incremental sync per active connection
    not backing off after failures. Runs whose task died are marked failed first."""
    sync_runs_fail_lost()
    now = timezone.now()
    due = KolegaConnection.objects.filter(state=KolegaConnection.State.ACTIVE).exclude(
        pk__in=SyncState.objects.filter(next_attempt_at__gt=now).values("connection_id")
    )
    count = 0
    for connection_id in due.values_list("pk", flat=True):
        sync_connection.delay(connection_id, SyncRun.Kind.INCREMENTAL)
        count += 1
    return count


@shared_task(acks_late=True, reject_on_worker_lost=True)
def reconcile_connections() -> int:
    """Beat, nightly: a reconciliation per active connection."""
    count = 0
    active = KolegaConnection.objects.filter(state=KolegaConnection.State.ACTIVE)
    for connection_id in active.values_list("pk", flat=True):
        sync_connection.delay(connection_id, SyncRun.Kind.RECONCILE)
        count += 1
    return count


def tracking_resume(*, connection_id: int) -> None:
    """Start a tracker for every active batch or fix with none alive (never started, or its
    chain died with a worker)."""
    stale = timezone.now() - timedelta(seconds=track_poll_seconds() * 6)
    untracked = Q(next_poll_at__isnull=True) | Q(next_poll_at__lt=stale)
    batches = (
        ScanBatch.objects.filter(connection_id=connection_id)
        .exclude(_status_in(SCAN_TERMINAL_STATUSES))
        .filter(untracked)
    )
    for pk in batches.values_list("pk", flat=True):
        track_scan_batch.delay(pk)
    fixes = (
        Fix.objects.filter(connection_id=connection_id)
        .exclude(_status_in(FIX_SETTLED_STATUSES))
        .filter(untracked)
    )
    for pk in fixes.values_list("pk", flat=True):
        track_fix.delay(pk)


def _chain_step(model, pk: int, poll_due: str | None, step) -> str:
    """Run one tracking step and schedule the next, unless another chain owns the row.

    A chain owns the row while `next_poll_at` equals the time it scheduled; a tracker started
    afresh (no `poll_due`) takes the row over and the older chain ends at its next step.
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


@shared_task(**RETRY_POLICY)
def track_scan_batch(batch_pk: int, poll_due: str | None = None) -> str:
    """Poll an active scan batch until it is terminal, then mirror its results and findings."""
    outcome = _chain_step(
        ScanBatch, batch_pk, poll_due, lambda batch: scan_batch_track_step(batch=batch)
    )
    if outcome not in ("gone", "superseded", "finished", "gave up"):
        track_scan_batch.apply_async((batch_pk, outcome), countdown=track_poll_seconds())
    return outcome


@shared_task(**RETRY_POLICY)
def track_fix(fix_pk: int, poll_due: str | None = None) -> str:
    """Poll an active fix's heartbeat until it settles, then mirror the fix and its diff."""
    outcome = _chain_step(Fix, fix_pk, poll_due, lambda fix: fix_track_step(fix=fix))
    if outcome not in ("gone", "superseded", "finished", "gave up"):
        track_fix.apply_async((fix_pk, outcome), countdown=track_poll_seconds())
    return outcome
