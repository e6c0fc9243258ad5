"""Writes of the sync area: "Sync now", a run recorded before the worker takes it."""

from django.db import transaction

from triage.models import KolegaConnection, Role, SyncRun
from triage.services.audit import audit_log
from triage.services.teams import require_role
from triage.task_queue import TaskName, task_send

# The kinds a person may ask for; reconciliation is the schedule's.
REQUESTABLE_KINDS = {"incremental": SyncRun.Kind.INCREMENTAL, "full": SyncRun.Kind.FULL}


def sync_run_request(*, connection: KolegaConnection, actor, kind: SyncRun.Kind) -> SyncRun:
    """Record a queued run of `kind` for the connection and queue the sync once it is
    committed. A broker that refuses the task fails the run with the reason, rather than
    leaving it queued for ever."""
    require_role(team=connection.team, user=actor, role=Role.ADMIN)
    with transaction.atomic():
        run = SyncRun.objects.create(
            connection=connection,
            team=connection.team,
            kind=kind,
            trigger=SyncRun.Trigger.MANUAL,
            requested_by=actor,
        )
        audit_log(
            team=connection.team,
            actor=actor,
            action="sync.request",
            target=connection,
            details={"kind": kind, "run": run.pk},
        )
        transaction.on_commit(lambda: _sync_run_queue(run))
    return run


def _sync_run_queue(run: SyncRun) -> None:
    try:
        task_send(TaskName.SYNC_CONNECTION, run.connection_id, run.kind, run.pk)
    except Exception as exc:  # the broker is down: say so rather than leave a run queued
        run.status = SyncRun.Status.FAILED
        run.error = f"The sync could not be queued: {exc}"[:2000]
        run.error_kind = "queue"
        run.save(update_fields=["status", "error", "error_kind"])
