"""Dismissals that wait for a second person, and the portal's own notes on a finding.

A `DismissalRequest` replaces setting findings to ignored or false positive while the team's
approval policy asks for it. Lifecycle: pending → rejected | cancelled | approved; approved →
applied (Kolega accepted the status for at least one finding) | failed (for none); an applied
``ignored`` with an expiry date → expired (the findings are set back to open).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from triage.models.findings import FindingStatusJob
from triage.models.fixes import ApproverDecision
from triage.models.mirror import FINDING_DISMISSAL_STATUSES, Finding
from triage.models.teams import Team

DISMISSAL_STATUSES = FINDING_DISMISSAL_STATUSES


class DismissalRequest(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for approval"
        APPROVED = "approved", "Approved, being applied"
        APPLIED = "applied", "Applied"
        FAILED = "failed", "Refused by Kolega"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired, findings reopened"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # A finding status that dismisses, labelled as the finding's own statuses are.
    requested_status = models.CharField(
        max_length=40, choices=[(status.value, status.label) for status in DISMISSAL_STATUSES]
    )
    reason = models.TextField()
    # Only for ignored: the day the findings are reopened.
    expires_on = models.DateField(null=True, blank=True)
    required_approvals = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # The filters the selection came from, to show what the requester was looking at.
    filter_query = models.CharField(max_length=2000, blank=True)
    total = models.IntegerField(default=0)
    apply_job = models.OneToOneField(
        FindingStatusJob,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="dismissal_applied",
    )
    reopen_job = models.OneToOneField(
        FindingStatusJob,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="dismissal_reopened",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
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
        constraints = [
            models.UniqueConstraint(
                fields=["request", "approver"], name="dismissal_decision_once_per_approver"
            )
        ]

    def __str__(self) -> str:
        return f"{self.approver_id} {self.decision} dismissal {self.request_id}"


class FindingNote(models.Model):
    """A line of a finding's timeline written by the portal (Kolega's events are mirrored in
    `FindingEvent`)."""

    class Kind(models.TextChoices):
        DISMISSAL_REQUESTED = "dismissal_requested", "Dismissal requested"
        DISMISSAL_REJECTED = "dismissal_rejected", "Dismissal rejected"
        DISMISSAL_CANCELLED = "dismissal_cancelled", "Dismissal cancelled"
        DISMISSAL_APPLIED = "dismissal_applied", "Dismissed"
        DISMISSAL_EXPIRED = "dismissal_expired", "Dismissal expired"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="notes")
    dismissal = models.ForeignKey(
        DismissalRequest, on_delete=models.CASCADE, null=True, blank=True, related_name="notes"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
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
