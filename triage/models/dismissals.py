"""Dismissals that wait for a second person, and the portal's own notes on a finding.

A `DismissalRequest` replaces setting findings to ignored or false positive while the team's
approval policy asks for it. Lifecycle: pending → rejected | cancelled | approved; approved →
applied (Kolega accepted the status for at least one finding) | failed (for none); an applied
``ignored`` with an expiry date → expired (the findings are set back to open).
"""

from django.db import models
from django.db.models import Q

from triage.models.approvals import ApprovalRequest, ApproverDecision, once_per_approver
from triage.models.findings import FindingStatusJob
from triage.models.mirror import FINDING_DISMISSAL_STATUSES, Finding
from triage.models.teams import TeamOwnedModel

DISMISSAL_STATUSES = FINDING_DISMISSAL_STATUSES


def status_job_key(related_name: str) -> models.OneToOneField:
    """A request's link to the bulk status job that carries out one of its steps; it stays
    empty until that step starts, and again if the job is deleted."""
    return models.OneToOneField(
        FindingStatusJob,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name=related_name,
    )


class DismissalRequest(ApprovalRequest):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for approval"
        APPROVED = "approved", "Approved, being applied"
        APPLIED = "applied", "Applied"
        FAILED = "failed", "Refused by Kolega"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired, findings reopened"

    # A finding status that dismisses, labelled as the finding's own statuses are.
    requested_status = models.CharField(
        max_length=40, choices=[(status.value, status.label) for status in DISMISSAL_STATUSES]
    )
    reason = models.TextField()
    # Only for ignored: the day the findings are reopened.
    expires_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # The filters the selection came from, to show what the requester was looking at.
    filter_query = models.CharField(max_length=2000, blank=True)
    total = models.IntegerField(default=0)
    # The job that sets the approved status, and the one that reopens an expired `ignored`.
    apply_job = status_job_key("dismissal_applied")
    reopen_job = status_job_key("dismissal_reopened")
    applied_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)

    class Meta(ApprovalRequest.Meta):
        indexes = [
            models.Index(fields=["team", "status"], name="dismissal_team_status"),
            models.Index(fields=["status", "expires_on"], name="dismissal_status_expiry"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True) | Q(requested_status="ignored"),
                name="dismissal_expiry_only_for_ignored",
            )
        ]

    def __str__(self) -> str:
        return (
            f"Dismissal #{self.pk} to {self.get_requested_status_display()}"
            f" ({self.get_status_display()})"
        )


class DismissalRequestItem(models.Model):
    """One finding of a request, with its status when the request was made."""

    request = models.ForeignKey(DismissalRequest, on_delete=models.CASCADE, related_name="items")
    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="+")
    previous_status = models.CharField(max_length=40)
    # Set once the approved status was applied: Kolega accepted it for this finding.
    applied = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "finding"], name="dismissal_item_once_per_finding"
            )
        ]
        indexes = [models.Index(fields=["finding"], name="dismissal_item_finding")]

    def __str__(self) -> str:
        return f"{self.finding_id} in dismissal {self.request_id}"


class DismissalDecision(ApproverDecision):
    """An approver's approve or reject of a dismissal."""

    request = models.ForeignKey(
        DismissalRequest, on_delete=models.CASCADE, related_name="decisions"
    )

    class Meta(ApproverDecision.Meta):
        constraints = [once_per_approver("request", "dismissal_decision_once_per_approver")]

    def __str__(self) -> str:
        return f"{self.approver_id} {self.decision} dismissal {self.request_id}"


class FindingNote(TeamOwnedModel):
    """A line of a finding's timeline written by the portal (Kolega's events are mirrored in
    `FindingEvent`)."""

    class Kind(models.TextChoices):
        DISMISSAL_REQUESTED = "dismissal_requested", "Dismissal requested"
        DISMISSAL_REJECTED = "dismissal_rejected", "Dismissal rejected"
        DISMISSAL_CANCELLED = "dismissal_cancelled", "Dismissal cancelled"
        DISMISSAL_APPLIED = "dismissal_applied", "Dismissed"
        DISMISSAL_EXPIRED = "dismissal_expired", "Dismissal expired"

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="notes")
    dismissal = models.ForeignKey(
        DismissalRequest, on_delete=models.CASCADE, null=True, blank=True, related_name="notes"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    body = models.TextField()

    class Meta(TeamOwnedModel.Meta):
        constraints = [
            # A task that runs twice writes each note of a dismissal once.
            models.UniqueConstraint(
                fields=["finding", "dismissal", "kind"],
                condition=Q(dismissal__isnull=False),
                name="finding_note_once_per_dismissal",
            )
        ]
        indexes = [models.Index(fields=["finding", "-created_at"], name="finding_note_finding")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.finding_id}"
