"""Portal-only state of findings triage: saved filter views and bulk status jobs."""

from django.conf import settings
from django.db import models

from triage.models.connections import KolegaConnection
from triage.models.mirror import Finding, FindingStatus, label_of
from triage.models.teams import TeamOwnedModel


class SavedView(TeamOwnedModel):
    """A user's named set of findings filters, kept as the list page's query string."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    query = models.CharField(max_length=2000, blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "user", "name"], name="findings_saved_view_unique_name"
            )
        ]

    def __str__(self) -> str:
        return self.name


class FindingStatusJob(TeamOwnedModel):
    """A bulk status change: one item per finding, each PATCHed to Kolega by a task."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"

    ACTIVE_STATES = (State.QUEUED, State.RUNNING)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # Empty for an undo job: each item goes back to its own previous status.
    target_status = models.CharField(max_length=40, blank=True)
    comment = models.TextField(blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    undo_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="undone_by"
    )
    # The list filters the selection came from, to link back to what was changed.
    filter_query = models.CharField(max_length=2000, blank=True)
    total = models.IntegerField(default=0)
    changed = models.IntegerField(default=0)
    unchanged = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)
    runs = models.IntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta(TeamOwnedModel.Meta):
        indexes = [models.Index(fields=["team", "-created_at"], name="findings_job_team_created")]

    def __str__(self) -> str:
        return f"status job {self.pk}"

    @property
    def processed(self) -> int:
        return self.changed + self.unchanged + self.failed

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE_STATES


class FindingStatusJobItem(models.Model):
    class Outcome(models.TextChoices):
        PENDING = "pending", "Pending"
        CHANGED = "changed", "Changed"
        UNCHANGED = "unchanged", "Already in that status"
        FAILED = "failed", "Failed"

    job = models.ForeignKey(FindingStatusJob, on_delete=models.CASCADE, related_name="items")
    # The mirror row may vanish (a reconciliation removes it); the upstream ids stay.
    finding = models.ForeignKey(Finding, on_delete=models.SET_NULL, null=True, related_name="+")
    connection = models.ForeignKey(KolegaConnection, on_delete=models.CASCADE, related_name="+")
    finding_upstream_id = models.CharField(max_length=300)
    repository_upstream_id = models.CharField(max_length=300)
    previous_status = models.CharField(max_length=40)
    target_status = models.CharField(max_length=40)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.PENDING)
    reason = models.TextField(blank=True)
    attempts = models.IntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["job", "outcome"], name="findings_job_item_outcome")]

    def __str__(self) -> str:
        return f"{self.finding_upstream_id} → {label_of(FindingStatus, self.target_status)}"
