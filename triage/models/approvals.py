"""What the two approval workflows share: fix approvals (which gate pull requests,
`triage.models.fixes`) and dismissal requests (`triage.models.dismissals`).

Both are one state machine (`triage.services.four_eyes`): a request is pending until an approver
other than its requester decides; a reject rejects it, and it is approved once it has as many
approvals as the team's policy asked for when it was made. Each workflow's `Status` has those
three states and adds its own around them.
"""

from django.conf import settings
from django.db import models

from triage.models.teams import TeamOwnedModel


class ApprovalRequest(TeamOwnedModel):
    """A request that waits for approvers: who asked, how many approvals it needs and when it
    was decided. Each workflow adds its `status` (of its own `Status`) and what is asked for."""

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # The team's policy when the request was made: a later change of it does not move the bar.
    required_approvals = models.PositiveSmallIntegerField(default=1)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta(TeamOwnedModel.Meta):
        abstract = True


class ApproverDecision(models.Model):
    """One approver's approve or reject of a request; each workflow's decisions add the request
    they belong to, which `once_per_approver` keeps to one decision per approver."""

    class Decision(models.TextChoices):
        APPROVE = "approve", "Approved"
        REJECT = "reject", "Rejected"

    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decision = models.CharField(max_length=16, choices=Decision.choices)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["created_at", "id"]


def once_per_approver(request_field: str, name: str) -> models.UniqueConstraint:
    """The constraint every decision model has: one decision per approver and request."""
    return models.UniqueConstraint(fields=[request_field, "approver"], name=name)
