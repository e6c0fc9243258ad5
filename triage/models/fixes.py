"""Portal-only workflow around mirrored fixes: diff versions, review, approvals, opening PRs.

The mirror rows (`Fix`, `PullRequest`) say what Kolega holds; these rows say what people in the
portal did about it. Approvals and pull-request openings are bound to the SHA-256 of the diff
that was seen, so a refined fix never opens pull requests on an approval of an older diff.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from triage.models.approvals import ApprovalRequest, ApproverDecision, once_per_approver
from triage.models.mirror import Fix
from triage.models.teams import Team, TeamOwnedModel


class TeamApprovalPolicy(models.Model):
    """How many approvers a request needs, whether an admin may approve their own, whether
    dismissing findings (ignored, false positive) needs a second person too, and whether the
    last approval opens the pull requests or someone opens them as a step of its own."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="approval_policy")
    required_approvals = models.PositiveSmallIntegerField(
        default=1, choices=[(1, "One approver"), (2, "Two approvers")]
    )
    admins_may_self_approve = models.BooleanField(default=False)
    dismissals_require_approval = models.BooleanField(default=False)
    # Off by default: an approver is never surprised by pull requests appearing at once.
    open_pull_requests_on_approval = models.BooleanField(
        default=False,
        verbose_name="Approving opens the pull requests",
        help_text=(
            "On: the last approval needed opens the pull requests at once. Off: the fix stays "
            "approved with an “Open pull requests” button."
        ),
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.team}: {self.required_approvals} approval(s)"


class FixDiffVersion(TeamOwnedModel):
    """Every completed diff of a fix, kept so reviewers can compare runs after a refine."""

    fix = models.ForeignKey(Fix, on_delete=models.CASCADE, related_name="diff_versions")
    number = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    diff = models.TextField()

    class Meta:
        ordering = ["fix", "number"]
        constraints = [
            models.UniqueConstraint(fields=["fix", "sha256"], name="fix_diff_version_sha"),
            models.UniqueConstraint(fields=["fix", "number"], name="fix_diff_version_number"),
        ]

    def __str__(self) -> str:
        return f"{self.fix_id} v{self.number} {self.sha256[:12]}"


class FixApproval(ApprovalRequest):
    """A request to open pull requests for one exact diff of a fix."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        VOIDED = "voided", "Voided by a refine"

    OPEN_STATUSES = (Status.PENDING, Status.APPROVED)

    fix = models.ForeignKey(Fix, on_delete=models.CASCADE, related_name="approvals")
    note = models.TextField(blank=True)
    pr_title = models.CharField(max_length=300, blank=True)
    pr_body = models.TextField(blank=True)
    pr_branch = models.CharField(max_length=200, blank=True)
    diff_sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)

    class Meta(ApprovalRequest.Meta):
        constraints = [
            # One live request per fix: a second "request approval" cannot race the first.
            models.UniqueConstraint(
                fields=["fix"],
                condition=Q(status__in=["pending", "approved"]),
                name="fix_approval_one_open",
            )
        ]
        indexes = [models.Index(fields=["team", "status"], name="fix_approval_team_status")]

    def __str__(self) -> str:
        return f"Approval #{self.pk} of fix {self.fix_id} ({self.get_status_display()})"


class ApprovalDecision(ApproverDecision):
    approval = models.ForeignKey(FixApproval, on_delete=models.CASCADE, related_name="decisions")
    # The diff the approver saw: an approval counts only for that diff.
    diff_sha256 = models.CharField(max_length=64)

    class Meta(ApproverDecision.Meta):
        constraints = [once_per_approver("approval", "approval_decision_once_per_approver")]

    def __str__(self) -> str:
        return f"{self.approver_id} {self.decision} {self.approval_id}"


class PullRequestOpening(TeamOwnedModel):
    """The one attempt to open pull requests for one approved diff.

    Unique per (fix, diff): a double click, a concurrent request or a retried task finds this
    row instead of sending again. Only the task that moves it from pending to sending POSTs.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Queued"
        SENDING = "sending", "Opening"
        OPENED = "opened", "Opened"
        FAILED = "failed", "Failed"
        UNKNOWN = "unknown", "Outcome unknown"

    fix = models.ForeignKey(Fix, on_delete=models.CASCADE, related_name="pull_request_openings")
    approval = models.ForeignKey(FixApproval, on_delete=models.PROTECT, related_name="openings")
    diff_sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    error_message = models.TextField(blank=True)
    pull_requests = models.JSONField(default=list, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TeamOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["fix", "diff_sha256"], name="pull_request_opening_once_per_diff"
            )
        ]

    def __str__(self) -> str:
        return f"Opening #{self.pk} of fix {self.fix_id} ({self.get_status_display()})"


class ReviewComment(TeamOwnedModel):
    """A comment on one line of one diff version, or a reply to one."""

    fix = models.ForeignKey(Fix, on_delete=models.CASCADE, related_name="review_comments")
    diff_sha256 = models.CharField(max_length=64)
    file_path = models.CharField(max_length=1000)
    # "new" line numbers for added and context lines, "old" for removed lines.
    side = models.CharField(max_length=3, choices=[("old", "old"), ("new", "new")])
    line = models.PositiveIntegerField()
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="replies"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["fix", "diff_sha256"], name="review_comment_fix_diff")]

    def __str__(self) -> str:
        return f"{self.file_path}:{self.line}"


class ReviewedFile(models.Model):
    """A reviewer's "viewed" mark on one file of one diff version."""

    fix = models.ForeignKey(Fix, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    diff_sha256 = models.CharField(max_length=64)
    file_path = models.CharField(max_length=1000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["fix", "user", "diff_sha256", "file_path"], name="reviewed_file_once"
            )
        ]

    def __str__(self) -> str:
        return self.file_path
