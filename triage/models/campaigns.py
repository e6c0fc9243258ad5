"""Fix campaigns: one class of finding fixed across many repositories, tracked to merged.

A campaign is portal state beside the mirror: the selection that defines it (the findings
page's filters, rules, CWEs, severities), the findings it took in, and one
`CampaignRepository` per Kolega repository and source repository, each of which one fix
covers. The fixes, their diffs, approvals and pull requests are the single-fix rows; the
campaign only points at them.
"""

from django.conf import settings
from django.db import models

from triage.models.mirror import Finding, Fix, Repository
from triage.models.teams import Team


class CampaignStage(models.TextChoices):
    """Where a campaign's finding is, in order: derived from the mirror, never stored."""

    OPEN = "open", "Open"
    FIX_RUNNING = "fix_running", "Fix running"
    IN_REVIEW = "in_review", "In review"
    PR_OPEN = "pr_open", "PR open"
    MERGED = "merged", "Merged"
    RESOLVED = "resolved", "Resolved"


class Campaign(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        LAUNCHED = "launched", "Launched"
        CANCELLED = "cancelled", "Cancelled"
        DONE = "done", "Done"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    due_date = models.DateField(null=True, blank=True)
    instructions = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT)
    # Findings matching the selection that appear after launch (a rescan) join the campaign.
    follow_new = models.BooleanField(default=False)
    # The selection: the findings page's query string, narrowed by the rules, CWEs and
    # severities picked (each an empty list when not narrowed by it).
    filter_query = models.TextField(blank=True)
    check_ids = models.JSONField(default=list, blank=True)
    cwes = models.JSONField(default=list, blank=True)
    severities = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    # The last round of planned fixes a launch was queued for: a second click on "Launch"
    # finds them already starting.
    launched_round = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["team", "state"], name="campaign_team_state")]

    def __str__(self) -> str:
        return self.name


class CampaignRepository(models.Model):
    """One fix of the campaign: the findings of one Kolega repository and source repository.

    planned → starting (claimed by one launch worker with a conditional update) → started |
    failed; planned → skipped (cancelled before it started). A row left `starting` by a worker
    that died is looked up in Kolega before anything is sent again.
    """

    class State(models.TextChoices):
        PLANNED = "planned", "Planned"
        STARTING = "starting", "Starting"
        STARTED = "started", "Started"
        FAILED = "failed", "Failed to start"
        SKIPPED = "skipped", "Skipped"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="repositories")
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="+")
    source_repo = models.CharField(max_length=300)
    # Findings that joined after the first fix started are fixed by a later round.
    round = models.PositiveSmallIntegerField(default=1)
    title = models.CharField(max_length=200)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PLANNED)
    fix = models.ForeignKey(Fix, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    fix_upstream_id = models.CharField(max_length=300, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["campaign", "round", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "repository", "source_repo", "round"],
                name="campaign_repository_once_per_round",
            )
        ]
        indexes = [models.Index(fields=["campaign", "state"], name="campaign_repository_state")]

    def __str__(self) -> str:
        return f"{self.source_repo} ({self.get_state_display()})"


class CampaignFinding(models.Model):
    """A finding the campaign took in, and the fix (campaign repository) that covers it."""

    class State(models.TextChoices):
        SELECTED = "selected", "Selected"
        IN_FIX = "in_fix", "In a fix"
        NOT_COVERED = "not_covered", "No fix started"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="findings")
    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="+")
    campaign_repository = models.ForeignKey(
        CampaignRepository,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="findings",
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.SELECTED)
    # Added by a later sync because it matches the campaign's selection (``follow_new``).
    followed = models.BooleanField(default=False)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["campaign", "id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "finding"], name="campaign_finding_once")
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.finding_id}"
