"""Bookkeeping of mirror syncs: one state row per connection and one row per run."""

from django.conf import settings
from django.db import models

from triage.models.connections import KolegaConnection
from triage.models.teams import TeamOwnedModel


class SyncState(models.Model):
    """Where a connection's mirror stands: the events cursor, the last outcomes and the lease.

    The lease (`lease_owner` until `lease_expires_at`) is what keeps two syncs of one
    connection from running at once, on SQLite as on PostgreSQL: it is taken with a single
    conditional UPDATE and renewed while the sync runs, so a worker killed mid-sync holds it
    only until it expires.
    """

    connection = models.OneToOneField(
        KolegaConnection, on_delete=models.CASCADE, related_name="sync_state"
    )
    # `event_timestamp` of the newest finding event whose rows are committed in the mirror.
    events_cursor = models.DateTimeField(null=True, blank=True)
    # Finding events before this moment were deleted (PORTAL_EVENTS_RETENTION_DAYS) and folded
    # into `FindingEventBaseline`: a sync never writes an event older than it again.
    events_pruned_before = models.DateTimeField(null=True, blank=True)
    last_full_sync_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_reconciled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.IntegerField(default=0)
    # Scheduled syncs wait until then after a failure (exponential backoff).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"sync state of {self.connection_id}"


class SyncRun(TeamOwnedModel):
    """One sync of one connection: what it did, how far it got and how it ended."""

    class Kind(models.TextChoices):
        FULL = "full", "Full"
        INCREMENTAL = "incremental", "Incremental"
        RECONCILE = "reconcile", "Reconciliation"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        MANUAL = "manual", "Sync now"
        COMMAND = "command", "Command line"

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)

    connection = models.ForeignKey(
        KolegaConnection, on_delete=models.CASCADE, related_name="sync_runs"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.SCHEDULE)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # What the run is doing now, for the live progress view.
    phase = models.CharField(max_length=100, blank=True)
    requests = models.IntegerField(default=0)
    rows_written = models.IntegerField(default=0)
    # Per kind of row: {"findings": 1200, "finding_events": 40, ...}; reconciliation repairs.
    details = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    # The error family ("unavailable", "auth", "malformed", ...), for retry and display.
    error_kind = models.CharField(max_length=32, blank=True)

    class Meta(TeamOwnedModel.Meta):
        indexes = [
            models.Index(fields=["connection", "-created_at"], name="sync_run_connection_created"),
            models.Index(fields=["team", "-created_at"], name="sync_run_team_created"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_kind_display()} sync of {self.connection_id}: {self.get_status_display()}"
        )

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()
