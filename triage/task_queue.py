"""Queueing the portal's Celery tasks by name, from the code the tasks call.

Tasks (`triage/tasks.py`) are thin wrappers over services and syncs, and services queue tasks
(tracking after a start, a status job, opening pull requests). So that the import goes one way
only (tasks → services), services name the task they queue instead of importing it; the name
is resolved through Celery's registry, which is the very task object `triage.tasks` defines.
"""

from __future__ import annotations

from enum import StrEnum

from celery import current_app


class TaskName(StrEnum):
    """The names the tasks are registered under. Names of tasks that once lived in per-area
    modules are kept, since queued messages and beat schedules carry them."""

    SYNC_CONNECTION = "triage.tasks.sync_connection"
    SYNC_DUE_CONNECTIONS = "triage.tasks.sync_due_connections"
    RECONCILE_CONNECTIONS = "triage.tasks.reconcile_connections"
    TRACK_SCAN_BATCH = "triage.tasks.track_scan_batch"
    TRACK_FIX = "triage.tasks.track_fix"
    RUN_FINDING_STATUS_JOB = "triage.tasks_findings.run_finding_status_job"
    EXPIRE_DISMISSALS = "triage.tasks_findings.expire_dismissals"
    OPEN_PULL_REQUESTS = "triage.tasks_fixes.open_pull_requests"
    REPORT_SNAPSHOTS_REFRESH = "triage.tasks_reports.report_snapshots_refresh"
    REPORT_SNAPSHOTS_REFRESH_ALL = "triage.tasks_reports.report_snapshots_refresh_all"
    SEND_INVITATION_EMAIL = "triage.tasks.send_invitation_email"
    EVALUATE_OWNERSHIP = "triage.tasks.evaluate_ownership"
    DELIVER_NOTIFICATION = "triage.tasks.deliver_notification"
    DELIVER_NOTIFICATIONS_DUE = "triage.tasks.deliver_notifications_due"
    NOTIFY_SCHEDULED_EVENTS = "triage.tasks.notify_scheduled_events"
    SEND_DIGESTS = "triage.tasks.send_digests"
    SEND_DIGEST = "triage.tasks.send_digest"
    LAUNCH_CAMPAIGN = "triage.tasks.launch_campaign"
    PRUNE_HISTORY = "triage.tasks.prune_history"


def task_send(name: TaskName, *args) -> None:
    """Queue the task `name` with `args` (ids), on the queue its route in settings names."""
    current_app.tasks[name].delay(*args)
