"""Running a sync as a recorded SyncRun: lease, client, progress, and how failures end.

Every sync kind goes through `sync_run_execute`, so they all share the same rules: one run
per connection at a time, progress saved after every committed page, a 401 marks the
connection invalid and stops its syncs, an unreachable Kolega fails the run with the reason
and pushes the next scheduled attempt back exponentially.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection as db
from django.db import transaction
from django.utils import timezone

from triage import kolega
from triage.clients import kolega_client_for
from triage.encryption import DecryptionError
from triage.models import KolegaConnection, SyncRun, SyncState
from triage.models.audit import SYSTEM, audit_log
from triage.outbound import UNREACHABLE_MESSAGE
from triage.sync import rows
from triage.sync.counts import finding_counts_compact
from triage.sync.lease import (
    LeaseLost,
    lease_acquire,
    lease_release,
    lease_renew,
    sync_state_for,
)
from triage.sync.notifications import (
    findings_new_summary,
    key_rejected_tell,
    quota_low_tell,
    sync_failing_tell,
)
from triage.sync.quota import DETAILS_KEY as QUOTA_DETAILS_KEY
from triage.sync.quota import quota_reading_due, quota_reading_take

logger = logging.getLogger("triage.sync")


@dataclass
class SyncContext:
    """What a sync body works with: the connection, its client and the run being recorded."""

    connection: KolegaConnection
    # None only for a run that failed before it could build one (an unreadable stored key).
    client: kolega.KolegaClient | None
    run: SyncRun
    lease_owner: str
    rows: Counter[str] = field(default_factory=Counter)
    extra_details: dict = field(default_factory=dict)
    # Findings the mirror did not hold before this run, by severity: told once, at its end.
    new_findings: Counter[str] = field(default_factory=Counter)
    new_finding_pks: list[int] = field(default_factory=list)
    # When the progress was last saved (``checkpoint``); 0 saves it at the first page.
    progress_saved_at: float = 0.0

    def wrote_findings(self, written) -> None:
        self.new_findings.update(written.new_by_severity)
        self.new_finding_pks.extend(written.new_pks)
        self.wrote("findings", written.rows)

    def wrote(self, kind: str, count: int) -> None:
        if count:
            self.rows[kind] += count
        cap = settings.PORTAL_SYNC_MAX_ROWS
        if sum(self.rows.values()) > cap:
            raise SyncRowCapReached(
                f"This sync stopped after writing {cap:,} rows, the most one sync may write"
                " (PORTAL_SYNC_MAX_ROWS). What it wrote is kept; the next sync stops there too"
                " until an operator raises the limit."
            )

    @contextmanager
    def page(self, phase: str) -> Iterator[None]:
        """One transaction for one page of writes, ending with the lease renewed and the run's
        progress saved in it: a worker that lost the lease commits nothing, and a page costs
        one commit. Its commit need not wait for the disk (the mirror can be synced again,
        and the cursor is saved in a page of its own, after every row it covers)."""
        with transaction.atomic():
            if db.vendor == "postgresql":
                with db.cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
            yield
            self.checkpoint(phase)

    def checkpoint(self, phase: str | None = None, *, force: bool = False) -> None:
        """Renew the lease; save the run's progress (phase, requests, rows) when
        ``PORTAL_SYNC_PROGRESS_SECONDS`` have passed since it was last saved, or ``force``."""
        lease_renew(connection=self.connection, owner=self.lease_owner)
        if phase is not None:
            self.run.phase = phase
        now = time.monotonic()
        if not force and now - self.progress_saved_at < progress_seconds():
            return
        self.progress_saved_at = now
        self.run.requests = self.client.request_count
        self.run.rows_written = sum(self.rows.values())
        self.run.details = {"rows": dict(self.rows), **self.extra_details}
        self.run.save(update_fields=["phase", "requests", "rows_written", "details"])


def progress_seconds() -> float:
    """How often a running sync saves its progress for the page that shows it."""
    return float(settings.PORTAL_SYNC_PROGRESS_SECONDS)


class SyncBodyFailed(Exception):
    """Raised by a sync body to end the run as failed with a message of its own."""


class SyncRowCapReached(SyncBodyFailed):
    """One sync wrote more rows than PORTAL_SYNC_MAX_ROWS allows: a server answering without
    end must not fill the database shared by every team."""


WORKER_LOST_REASON = "The sync stopped unexpectedly (worker lost); it will be retried."


def sync_runs_fail_lost() -> int:
    """Mark failed every run still "running" whose lease is gone or lapsed: its task died
    (worker killed, or the database went away before the run could record how it ended).

    A live run renews its lease with every page, so a lapsed lease means nobody is running
    it. The next scheduled sync of the connection retries. Answers how many were marked.
    """
    now = timezone.now()
    live_owners = set(
        SyncState.objects.filter(lease_expires_at__gte=now).values_list("lease_owner", flat=True)
    )
    running = SyncRun.objects.filter(status=SyncRun.Status.RUNNING).values_list("pk", flat=True)
    lost = [pk for pk in running if f"run-{pk}" not in live_owners]
    if not lost:
        return 0
    marked = SyncRun.objects.filter(pk__in=lost, status=SyncRun.Status.RUNNING).update(
        status=SyncRun.Status.FAILED,
        error_kind="worker_lost",
        error=WORKER_LOST_REASON,
        phase="",
        finished_at=now,
    )
    if marked:
        logger.warning("%d sync run(s) lost their worker and were marked failed", marked)
    return marked


def interval_seconds() -> int:
    return int(getattr(settings, "PORTAL_SYNC_INTERVAL_SECONDS", 60))


def backoff_delay(consecutive_failures: int) -> timedelta:
    """How long scheduled syncs wait after the n-th failure in a row."""
    cap = int(getattr(settings, "PORTAL_SYNC_BACKOFF_MAX_SECONDS", 1800))
    exponent = max(consecutive_failures - 1, 0)
    return timedelta(seconds=min(interval_seconds() * 2 ** min(exponent, 16), cap))


def sync_run_execute(
    *,
    connection: KolegaConnection,
    kind: SyncRun.Kind,
    trigger: SyncRun.Trigger,
    body: Callable[[SyncContext], None],
    run: SyncRun | None = None,
) -> SyncRun:
    """Run `body` as one recorded sync of `connection`; never raises for a Kolega failure.

    The answered run says how it ended. When it failed because Kolega was unreachable,
    `run.retryable_error` holds the exception, so a task can hand it to Celery's retry.
    """
    run = run or SyncRun(connection=connection, team_id=connection.team_id, trigger=trigger)
    run.kind = kind
    run.retryable_error = None
    connection.refresh_from_db(fields=["state", "state_reason"])
    if not connection.is_active:
        return _skip(run, f"The connection is {connection.get_state_display().lower()}.")
    if run.pk is None:
        run.save()
    owner = f"run-{run.pk}"
    if not lease_acquire(connection=connection, owner=owner):
        return _skip(run, "Another sync of this connection is running.")
    # Holding the lease means any other run still marked running lost its worker.
    SyncRun.objects.filter(connection=connection, status=SyncRun.Status.RUNNING).exclude(
        pk=run.pk
    ).update(
        status=SyncRun.Status.FAILED,
        error_kind="worker_lost",
        error=WORKER_LOST_REASON,
        finished_at=timezone.now(),
    )
    run.status = SyncRun.Status.RUNNING
    run.started_at = timezone.now()
    run.save(update_fields=["kind", "status", "started_at"])
    try:
        client = kolega_client_for(connection)
    except DecryptionError as exc:
        # The stored key is read when the client is built: none of the configured keys
        # opens it. The run fails and says so; the lease goes back at once.
        context = SyncContext(connection=connection, client=None, run=run, lease_owner=owner)
        try:
            _fail(context, exc, error_kind="key")
        finally:
            lease_release(connection=connection, owner=owner)
        return run
    context = SyncContext(connection=connection, client=client, run=run, lease_owner=owner)
    try:
        body(context)
    except kolega.KolegaAuthError as exc:
        _fail(context, exc, error_kind="auth")
        if exc.status_code == 401:
            connection_mark_invalid(connection, exc)
    except kolega.KolegaUnavailable as exc:
        _fail(context, exc, error_kind="unavailable", reason=exc.reason)
        run.retryable_error = exc
    except kolega.KolegaMalformedResponse as exc:
        _fail(context, exc, error_kind="malformed")
    except kolega.KolegaAddressRefused as exc:
        _fail(context, exc, error_kind="address_refused")
    except kolega.KolegaTooLarge as exc:
        _fail(context, exc, error_kind="too_large")
    except kolega.KolegaError as exc:
        _fail(context, exc, error_kind="kolega")
    except LeaseLost as exc:
        _fail(context, exc, error_kind="lease_lost")
    except SyncRowCapReached as exc:
        _fail(context, exc, error_kind="row_cap")
    except SyncBodyFailed as exc:
        _fail(context, exc, error_kind="sync")
    except Exception as exc:
        _fail(context, exc, error_kind="internal")
        raise
    else:
        _quota_reading_keep(context)
        _succeed(context)
    finally:
        client.close()
        lease_release(connection=connection, owner=owner)
    # A first sync of a large organization turns near-empty tables into large ones, and a
    # big incremental one changes a good share of them: the planner's statistics are
    # refreshed now rather than when autovacuum gets to them, whether the run ended well or
    # not (what it wrote is kept).
    rows.statistics_refresh_after(context.rows)
    if context.rows.get("findings"):
        # The counts' rows of changes this sync added, folded while they are few.
        finding_counts_compact(team_id=connection.team_id)
    return run


def _quota_reading_keep(context: SyncContext) -> None:
    connection = context.connection
    if quota_reading_due(connection=connection, now=timezone.now()):
        reading = quota_reading_take(connection=connection, client=context.client)
        if reading is not None:
            context.extra_details[QUOTA_DETAILS_KEY] = reading


def _skip(run: SyncRun, reason: str) -> SyncRun:
    run.status = SyncRun.Status.SKIPPED
    run.error = reason
    run.finished_at = timezone.now()
    # A scheduled run that found the connection busy leaves no row behind; one a person
    # or a command asked for says why it did nothing.
    if run.pk is not None or run.trigger != SyncRun.Trigger.SCHEDULE:
        run.save()
    return run


def _finish_fields(context: SyncContext) -> None:
    run = context.run
    run.finished_at = timezone.now()
    run.requests = context.client.request_count if context.client is not None else 0
    run.rows_written = sum(context.rows.values())
    run.details = {"rows": dict(context.rows), **context.extra_details}
    run.phase = ""


def _succeed(context: SyncContext) -> None:
    run = context.run
    _finish_fields(context)
    run.status = SyncRun.Status.SUCCEEDED
    with transaction.atomic():
        run.save()
        _new_findings_tell(context)
        quota_low_tell(
            connection=context.connection, reading=context.extra_details.get(QUOTA_DETAILS_KEY)
        )
        updates = {
            "last_success_at": run.finished_at,
            "consecutive_failures": 0,
            "next_attempt_at": None,
        }
        if run.kind == SyncRun.Kind.FULL:
            updates["last_full_sync_at"] = run.finished_at
        if run.kind == SyncRun.Kind.RECONCILE:
            updates["last_reconciled_at"] = run.finished_at
        SyncState.objects.filter(connection=context.connection).update(**updates)
    logger.info(
        "%s sync of connection %s: %d requests, %d rows written",
        run.kind,
        context.connection.pk,
        run.requests,
        run.rows_written,
    )


def _new_findings_tell(context: SyncContext) -> None:
    """One summary of the findings this run brought, whether it ended well or not: what it
    wrote is kept, and the next run does not see those findings as new again."""
    run = context.run
    findings_new_summary(
        team_id=context.connection.team_id,
        run_pk=run.pk,
        connection_name=context.connection.name,
        by_severity=context.new_findings,
        since_date=(run.started_at or run.created_at).date().isoformat(),
        finding_pks=context.new_finding_pks,
    )


# What a failed sync tells everyone who can see the team's sync status: one sentence per
# family of failure. The network's own words and Kolega's text go to the log only.
SYNC_FAILURE_MESSAGES: list[tuple[type[Exception], str]] = [
    (
        DecryptionError,
        "The stored API key cannot be decrypted with the portal's encryption keys "
        "(PORTAL_ENCRYPTION_KEYS): enter the key again, or restore the encryption key it was "
        "saved with.",
    ),
    (kolega.KolegaAuthError, "Kolega rejected this connection's key."),
    (kolega.KolegaRateLimited, "Kolega is rate limiting this organization; the sync will retry."),
    (kolega.KolegaAddressRefused, UNREACHABLE_MESSAGE),
    (kolega.KolegaTooLarge, "An answer from Kolega was larger than the portal reads."),
    (kolega.KolegaMalformedResponse, "This address does not answer as the Kolega API."),
    (kolega.KolegaError, "Kolega refused a request of this sync."),
]


def sync_failure_message(exc: Exception) -> str:
    if isinstance(exc, kolega.KolegaUnavailable) and not isinstance(exc, kolega.KolegaRateLimited):
        if exc.status_code is None:
            return f"{UNREACHABLE_MESSAGE} The sync will retry."
        return "Kolega answered with a server error; the sync will retry."
    for family, message in SYNC_FAILURE_MESSAGES:
        if isinstance(exc, family):
            return message
    return str(exc)


def _fail(context: SyncContext, exc: Exception, *, error_kind: str, reason: str = "") -> None:
    run = context.run
    _finish_fields(context)
    run.status = SyncRun.Status.FAILED
    run.error_kind = error_kind
    run.error = sync_failure_message(exc)[:2000]
    detail = str(exc)
    detail = f"{reason}: {detail}" if reason and reason not in detail else detail
    detail = getattr(exc, "detail", "") or detail
    state = sync_state_for(context.connection)
    failures = state.consecutive_failures + 1
    with transaction.atomic():
        run.save()
        _new_findings_tell(context)
        SyncState.objects.filter(pk=state.pk).update(
            last_error=run.error,
            last_error_at=run.finished_at,
            consecutive_failures=failures,
            next_attempt_at=run.finished_at + backoff_delay(failures),
        )
        sync_failing_tell(
            connection=context.connection,
            failures=failures,
            last_success_at=state.last_success_at,
            error=run.error,
        )
    log = logger.exception if error_kind == "internal" else logger.warning
    log("%s sync of connection %s failed: %s", run.kind, context.connection.pk, detail)


def connection_state_record(
    connection: KolegaConnection,
    *,
    state: str,
    reason: str,
    actor,
    action: str,
    details: dict | None = None,
) -> None:
    """Move the connection to ``state`` saying why, with its audit entry; the caller holds the
    transaction."""
    # An update by key, not a save: a connection deleted meanwhile is left deleted.
    changed = {"state": state, "state_reason": reason, "updated_at": timezone.now()}
    KolegaConnection.objects.filter(pk=connection.pk).update(**changed)
    for name, value in changed.items():
        setattr(connection, name, value)
    audit_log(team=connection.team, actor=actor, action=action, target=connection, details=details)


def connection_mark_invalid(connection: KolegaConnection, exc: kolega.KolegaError) -> None:
    """Kolega rejected the key: stop the connection's syncs until an admin acts."""
    logger.warning("connection %s marked invalid: %s", connection.pk, exc)
    reason = "Kolega rejected the API key (HTTP 401)."
    with transaction.atomic():
        connection_state_record(
            connection,
            state=KolegaConnection.State.INVALID,
            reason=reason,
            actor=SYSTEM,
            action="connection.invalidated",
            details={"reason": reason},
        )
        key_rejected_tell(
            connection=connection,
            last_success_at=SyncState.objects.filter(connection=connection)
            .values_list("last_success_at", flat=True)
            .first(),
            reason=reason,
        )
