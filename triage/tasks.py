"""Celery tasks: thin wrappers that take ids, load rows and call one sync or service.

Every task is safe to run twice: syncs upsert on upstream ids under a per-connection lease,
tracking steps store what Kolega says, status jobs skip items already decided, a pull-request
opening is sent only by the task that moves it from pending to sending.

One policy for all (`TASK_POLICY`): acknowledged late and re-queued when their worker dies;
only `KolegaUnavailable` (Kolega down, 5xx, timeouts, 429 beyond what the client waits) is
retried, with exponential backoff; auth, not-found and validation errors are final, and the
service that met them records why. Each task runs on the queue its route in settings names
(`CELERY_TASK_ROUTES`), so an operator can give slow work its own workers.
"""

from __future__ import annotations

from datetime import date

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from triage.kolega import KolegaUnavailable
from triage.models import (
    Fix,
    KolegaConnection,
    PullRequestOpening,
    ScanBatch,
    SyncRun,
    SyncState,
    Team,
)
from triage.services.approvals import pull_request_opening_send
from triage.services.campaigns import campaign_launch_run, campaigns_follow
from triage.services.digests import digest_send, digests_queue
from triage.services.dismissals import dismissals_expire
from triage.services.findings import finding_status_job_run
from triage.services.invitations import invitation_email_send
from triage.services.notification_schedule import scheduled_events_record
from triage.services.notifications import deliveries_due, delivery_attempt
from triage.services.ownership import ownership_evaluation_run
from triage.services.reports import report_snapshots_rebuild
from triage.services.upkeep import history_prune
from triage.sync import (
    fix_track_step,
    scan_batch_track_step,
    sync_connection_full,
    sync_connection_incremental,
    sync_connection_reconcile,
)
from triage.sync.runs import sync_runs_fail_lost
from triage.sync.tracking import (
    CHAIN_ENDS,
    fixes_untracked,
    scan_batches_untracked,
    track_poll_seconds,
    tracking_chain_step,
)
from triage.task_queue import TaskName

TASK_POLICY = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (KolegaUnavailable,),
    "retry_backoff": 15,
    # Below the broker's visibility timeout: a retry never waits long enough to be redelivered.
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 6,
    "time_limit": 30 * 60,
    "soft_time_limit": 25 * 60,
}

SYNC_FUNCTIONS = {
    SyncRun.Kind.FULL: sync_connection_full,
    SyncRun.Kind.INCREMENTAL: sync_connection_incremental,
    SyncRun.Kind.RECONCILE: sync_connection_reconcile,
}

# Retries waiting longer than this are left to the sweep, below the broker's visibility timeout.
MAX_NOTIFICATION_COUNTDOWN_SECONDS = 600

# One rebuild per team at a time is enough: the reports page asks for one on every stale visit.
REFRESH_LOCK_SECONDS = 300
# One pruning at a time; a second one queued meanwhile returns at once. Below the task's time
# limit, so a killed worker's lock lapses before the next night.
PRUNE_LOCK_SECONDS = TASK_POLICY["time_limit"]

# Sync


@shared_task(name=TaskName.SYNC_CONNECTION, **TASK_POLICY)
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
    if run.status == SyncRun.Status.SUCCEEDED:
        # Campaigns that follow their selection take in what this sync brought.
        campaigns_follow(team_id=connection.team_id)
    if run.retryable_error is not None:
        raise run.retryable_error
    return run.status


@shared_task(name=TaskName.SYNC_DUE_CONNECTIONS, **TASK_POLICY)
def sync_due_connections() -> int:
    """Beat, every PORTAL_SYNC_INTERVAL_SECONDS: an incremental sync per active connection
    not backing off after failures. Runs whose task died are marked failed first."""
    sync_runs_fail_lost()
    due = KolegaConnection.objects.filter(state=KolegaConnection.State.ACTIVE).exclude(
        pk__in=SyncState.objects.filter(next_attempt_at__gt=timezone.now()).values("connection_id")
    )
    count = 0
    for connection_id in due.values_list("pk", flat=True):
        sync_connection.delay(connection_id, SyncRun.Kind.INCREMENTAL)
        count += 1
    return count


@shared_task(name=TaskName.RECONCILE_CONNECTIONS, **TASK_POLICY)
def reconcile_connections() -> int:
    """Beat, nightly: a reconciliation per active connection."""
    count = 0
    active = KolegaConnection.objects.filter(state=KolegaConnection.State.ACTIVE)
    for connection_id in active.values_list("pk", flat=True):
        sync_connection.delay(connection_id, SyncRun.Kind.RECONCILE)
        count += 1
    return count


# Tracking


def tracking_resume(*, connection_id: int) -> None:
    """Start a tracker for every active batch or fix with none alive."""
    for pk in scan_batches_untracked(connection_id=connection_id).values_list("pk", flat=True):
        track_scan_batch.delay(pk)
    for pk in fixes_untracked(connection_id=connection_id).values_list("pk", flat=True):
        track_fix.delay(pk)


@shared_task(name=TaskName.TRACK_SCAN_BATCH, **TASK_POLICY)
def track_scan_batch(batch_pk: int, poll_due: str | None = None) -> str:
    """Poll an active scan batch until it is terminal, then mirror its results and findings."""
    outcome = tracking_chain_step(
        ScanBatch, batch_pk, poll_due, lambda batch: scan_batch_track_step(batch=batch)
    )
    if outcome not in CHAIN_ENDS:
        track_scan_batch.apply_async((batch_pk, outcome), countdown=track_poll_seconds())
    return outcome


@shared_task(name=TaskName.TRACK_FIX, **TASK_POLICY)
def track_fix(fix_pk: int, poll_due: str | None = None) -> str:
    """Poll an active fix's heartbeat until it settles, then mirror the fix and its diff."""
    outcome = tracking_chain_step(Fix, fix_pk, poll_due, lambda fix: fix_track_step(fix=fix))
    if outcome not in CHAIN_ENDS:
        track_fix.apply_async((fix_pk, outcome), countdown=track_poll_seconds())
    return outcome


# Bulk status changes and dismissals


@shared_task(name=TaskName.RUN_FINDING_STATUS_JOB, **TASK_POLICY)
def run_finding_status_job(job_id: int) -> None:
    # Each item's Kolega failure is recorded as its outcome, not raised: a redelivery or
    # retry continues with the items still pending.
    finding_status_job_run(job_id=job_id)


@shared_task(name=TaskName.EXPIRE_DISMISSALS, **TASK_POLICY)
def expire_dismissals() -> int:
    # Each expired dismissal's findings are reopened by a status job of its own; a second
    # run finds the requests already expired and queues nothing.
    return len(dismissals_expire())


# Pull requests


@shared_task(name=TaskName.OPEN_PULL_REQUESTS, **TASK_POLICY)
def open_pull_requests(opening_id: int) -> str:
    # Only reconciling an unknown outcome is retried: the POST itself is sent at most once
    # (the opening leaves `pending` before it is sent), so a retry can never send it again.
    if not PullRequestOpening.objects.filter(pk=opening_id).exists():
        return "gone"
    return pull_request_opening_send(opening_id=opening_id).status


# Reports


@shared_task(name=TaskName.REPORT_SNAPSHOTS_REFRESH, **TASK_POLICY)
def report_snapshots_refresh(team_id: int) -> int:
    """Rebuild a team's daily snapshots from its finding events. Idempotent: a rebuild
    replaces all of the team's rows with what the events say."""
    team = Team.objects.filter(pk=team_id).first()
    if team is None:
        return 0
    lock = f"reports:snapshots-refresh:{team_id}"
    if not cache.add(lock, "1", REFRESH_LOCK_SECONDS):
        return 0
    try:
        return report_snapshots_rebuild(team=team)
    finally:
        cache.delete(lock)


@shared_task(name=TaskName.REPORT_SNAPSHOTS_REFRESH_ALL, **TASK_POLICY)
def report_snapshots_refresh_all() -> int:
    """Beat, nightly: rebuild every team's snapshots so a new day's row exists before anyone
    opens the reports."""
    team_ids = list(Team.objects.values_list("pk", flat=True))
    for team_id in team_ids:
        report_snapshots_refresh.delay(team_id)
    return len(team_ids)


# Mail


@shared_task(name=TaskName.SEND_INVITATION_EMAIL, **TASK_POLICY)
def send_invitation_email(invitation_id: int) -> str:
    """Mail an invitation's link. A refusal of the mail server is recorded on the invitation,
    which the members page shows with a button to send it again."""
    return invitation_email_send(invitation_id=invitation_id)


# Ownership


@shared_task(name=TaskName.EVALUATE_OWNERSHIP, **TASK_POLICY)
def evaluate_ownership(evaluation_id: int) -> str:
    """Apply a team's ownership rules to all its findings. Idempotent: a pass sets each
    finding to what the rules say now, and a finished pass is not run again."""
    evaluation = ownership_evaluation_run(evaluation_id=evaluation_id)
    return evaluation.state if evaluation is not None else "gone"


# Notifications


@shared_task(name=TaskName.DELIVER_NOTIFICATION, **TASK_POLICY)
def deliver_notification(delivery_id: int) -> str:
    """Send one notification delivery. Safe to run twice: an attempt claims the delivery
    first, and a delivered one is never sent again. A failed attempt queues the next after
    its backoff (longer waits are picked up by the sweep)."""
    result = delivery_attempt(delivery_id=delivery_id)
    countdown = result.countdown
    if countdown is not None and countdown <= MAX_NOTIFICATION_COUNTDOWN_SECONDS:
        deliver_notification.apply_async((delivery_id,), countdown=countdown)
    return result.outcome


@shared_task(name=TaskName.DELIVER_NOTIFICATIONS_DUE, **TASK_POLICY)
def deliver_notifications_due() -> int:
    """Beat, every minute: queue deliveries whose time has come and those whose sender died
    mid-send, so a lost message or a killed worker loses no notification."""
    due = deliveries_due()
    for delivery_id in due:
        deliver_notification.delay(delivery_id)
    return len(due)


@shared_task(name=TaskName.NOTIFY_SCHEDULED_EVENTS, **TASK_POLICY)
def notify_scheduled_events() -> int:
    """Beat, hourly: the day's SLA summaries and dismissals about to expire. The first run of
    a day records them; the others (and a retried run) find them recorded."""
    return scheduled_events_record()


# Digests


@shared_task(name=TaskName.SEND_DIGESTS, **TASK_POLICY)
def send_digests(cadence: str) -> int:
    """Beat, each morning (daily) and on Mondays (weekly): queue a digest per member due one."""
    return digests_queue(cadence=cadence)


@shared_task(name=TaskName.SEND_DIGEST, **TASK_POLICY)
def send_digest(user_id: int, cadence: str, first_day: str) -> str:
    """Send one member the digest of the period starting `first_day`. Safe to run twice: the
    digest is claimed per member and period before it is sent."""
    return digest_send(user_id=user_id, cadence=cadence, first_day=date.fromisoformat(first_day))


# Campaigns


@shared_task(name=TaskName.LAUNCH_CAMPAIGN, **TASK_POLICY)
def launch_campaign(campaign_id: int) -> str:
    """Start a launched campaign's planned fixes. Safe to run twice or after a killed worker:
    each fix is claimed by a conditional update before it is asked for, and a claim left
    behind is looked up in Kolega before anything is sent again."""
    result = campaign_launch_run(campaign_id=campaign_id)
    return f"started {result.started}, failed {result.failed}, found {result.adopted}"


# Database upkeep


@shared_task(name=TaskName.PRUNE_HISTORY, **TASK_POLICY)
def prune_history() -> str:
    """Beat, nightly: delete finding events and sync runs older than their retention, in
    batches. Safe to run twice at once: a second run finds the lock taken and returns, and
    even without it each batch is folded and deleted under the connection's sync lease, so
    nothing is counted twice."""
    lock = "upkeep:prune-history"
    if not cache.add(lock, "1", PRUNE_LOCK_SECONDS):
        return "already running"
    try:
        totals = history_prune().totals
    finally:
        cache.delete(lock)
    return f"deleted {totals['finding_events']} finding events, {totals['sync_runs']} sync runs"
