"""State of the emulated Kolega service.

Ids are UUIDs rendered as strings, as upstream does. Timestamps are written from
``sandbox.clock.now()`` rather than ``auto_now`` so that a moved clock stays consistent.
Life-cycle states that depend on time are not stored here: ``sandbox.lifecycle`` derives
them from the timestamps and only records what must not change once seen (findings,
events, diffs).
"""

import uuid

from django.db import models


class ScanType(models.TextChoices):
    SECRETS = "secrets_scan"
    SEMGREP = "semgrep_scan"
    DEEP_AI = "deep_ai_scan"
    SBOM = "sbom_scan"


class FindingStatus(models.TextChoices):
    OPEN = "open"
    RESOLVED = "resolved"
    IGNORED = "ignored"
    FALSE_POSITIVE = "false_positive"
    NEEDS_MANUAL_REVIEW = "needs_manual_review"


class Organization(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    # Plan allowances per billing period; the top-ups are added on top.
    prs_plan = models.PositiveIntegerField(default=100)
    prs_topup = models.PositiveIntegerField(default=0)
    sast_scans_plan = models.PositiveIntegerField(default=500)
    sast_scans_topup = models.PositiveIntegerField(default=0)
    deep_ai_scans_plan = models.PositiveIntegerField(default=50)
    deep_ai_scans_topup = models.PositiveIntegerField(default=0)
    repositories_max = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.slug


class ApiKey(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="keys")
    name = models.CharField(max_length=200)
    key_prefix = models.CharField(max_length=32, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.key_prefix


class Repository(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="repositories"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(null=True, blank=True)
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.name


class SourceRepo(models.Model):
    """A git repository (owner/repo) whose files the sandbox scans."""

    repository = models.ForeignKey(
        Repository, on_delete=models.CASCADE, related_name="source_repos"
    )
    full_name = models.CharField(max_length=200)
    default_branch = models.CharField(max_length=100, default="main")
    provider = models.CharField(max_length=20, default="github")
    # Set to make every scan of this source repo fail (partial_failure / failed batches).
    fails_scans = models.BooleanField(default=False)
    head_commit_sha = models.CharField(max_length=40, default="0" * 40)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.full_name

    @property
    def html_url(self) -> str:
        hosts = {
            "github": "https://github.com",
            "gitlab": "https://gitlab.com",
            "azure_devops": "https://dev.azure.com",
        }
        return f"{hosts.get(self.provider, 'https://github.com')}/{self.full_name}"


class SourceFile(models.Model):
    source_repo = models.ForeignKey(SourceRepo, on_delete=models.CASCADE, related_name="files")
    path = models.CharField(max_length=500)
    content = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source_repo", "path"], name="sandbox_file_unique")
        ]

    def __str__(self) -> str:
        return self.path


class ScanBatch(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="batches")
    scan_type = models.CharField(max_length=20, choices=ScanType.choices)
    created_at = models.DateTimeField()
    # Seconds per unit of the nominal schedule, fixed at creation so a batch never jumps.
    time_scale = models.FloatField(default=1.0)
    # Set once the batch's outcome is written (findings and events), exactly once.
    materialized_at = models.DateTimeField(null=True, blank=True)
    final_status = models.CharField(max_length=20, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "materialized_at"]),
            models.Index(fields=["repository", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.scan_type} {self.id}"


class ScanRun(models.Model):
    """One source repo's scan inside a batch (the ``/progress`` breakdown)."""

    batch = models.ForeignKey(ScanBatch, on_delete=models.CASCADE, related_name="runs")
    source_repo = models.ForeignKey(SourceRepo, on_delete=models.CASCADE)
    position = models.PositiveIntegerField()
    will_fail = models.BooleanField(default=False)
    findings_count = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return f"{self.batch_id}#{self.position}"


class Finding(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    # Foreign keys whose lookups the composite indexes below already serve carry no index
    # of their own: fewer indexes to maintain when bulk-loading findings.
    repository = models.ForeignKey(
        Repository, on_delete=models.CASCADE, related_name="findings", db_index=False
    )
    source_repo = models.ForeignKey(SourceRepo, on_delete=models.CASCADE, db_index=False)
    scan_type = models.CharField(max_length=20, choices=ScanType.choices)
    check_id = models.CharField(max_length=200)
    title = models.CharField(max_length=300, null=True, blank=True)
    message = models.TextField()
    severity = models.CharField(max_length=20)
    category = models.CharField(max_length=100)
    status = models.CharField(
        max_length=30, choices=FindingStatus.choices, default=FindingStatus.OPEN
    )
    file_path = models.CharField(max_length=500)
    line = models.PositiveIntegerField(default=1)
    cwe = models.JSONField(default=list)
    owasp = models.JSONField(default=list)
    references = models.JSONField(default=list)
    cvss_base_score = models.FloatField(null=True, blank=True)
    cvss_severity = models.CharField(max_length=20, null=True, blank=True)
    cvss_vector = models.CharField(max_length=200, null=True, blank=True)
    fingerprint = models.CharField(max_length=200)
    first_detected_at = models.DateTimeField()
    last_detected_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    batches = models.ManyToManyField(ScanBatch, through="BatchFinding", related_name="findings")

    class Meta:
        ordering = ["-first_detected_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source_repo", "scan_type", "fingerprint"],
                name="sandbox_finding_fingerprint_unique",
            )
        ]
        indexes = [
            models.Index(fields=["repository", "status"]),
            models.Index(fields=["repository", "severity"]),
        ]

    def __str__(self) -> str:
        return f"{self.check_id} {self.file_path}:{self.line}"

    @property
    def source_url(self) -> str:
        return (
            f"{self.source_repo.html_url}/blob/{self.source_repo.default_branch}/"
            f"{self.file_path}#L{self.line}"
        )


class BatchFinding(models.Model):
    """A finding reported by a batch (``/results`` and ``findings?scan_batch_id=``)."""

    batch = models.ForeignKey(ScanBatch, on_delete=models.CASCADE, db_index=False)
    finding = models.ForeignKey(Finding, on_delete=models.CASCADE)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["batch", "finding"], name="sandbox_batch_finding")
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}/{self.finding_id}"


class FindingEvent(models.Model):
    # The sequence breaks ties between events of the same instant, newest first.
    sequence = models.BigAutoField(primary_key=True)
    id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, db_index=False)
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE)
    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="events")
    scan_batch = models.ForeignKey(ScanBatch, on_delete=models.SET_NULL, null=True, blank=True)
    scan_type = models.CharField(max_length=20, null=True, blank=True)
    event_type = models.CharField(max_length=40)
    previous_status = models.CharField(max_length=30, null=True, blank=True)
    new_status = models.CharField(max_length=30, null=True, blank=True)
    severity = models.CharField(max_length=20, null=True, blank=True)
    check_id = models.CharField(max_length=200, null=True, blank=True)
    file_path = models.CharField(max_length=500, null=True, blank=True)
    actor_user_id = models.CharField(max_length=100, null=True, blank=True)
    metadata = models.JSONField(default=dict)
    event_timestamp = models.DateTimeField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-event_timestamp", "-sequence"]
        indexes = [models.Index(fields=["organization", "-event_timestamp", "-sequence"])]

    def __str__(self) -> str:
        return f"{self.event_type} {self.id}"


class Fix(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="fixes")
    source_repo = models.ForeignKey(SourceRepo, on_delete=models.SET_NULL, null=True, blank=True)
    finding_ids = models.JSONField(default=list)
    title = models.CharField(max_length=200)
    instructions = models.TextField()
    source_repo_name = models.CharField(max_length=200)
    source_repo_provider = models.CharField(max_length=20, default="github")
    source_scan_branch = models.CharField(max_length=200, null=True, blank=True)
    source_base_commit_sha = models.CharField(max_length=40, null=True, blank=True)
    created_at = models.DateTimeField()
    time_scale = models.FloatField(default=1.0)
    # Each refine starts a new run; the run number is the diff variant.
    run_number = models.PositiveIntegerField(default=0)
    run_requested_at = models.DateTimeField()
    refine_instructions = models.TextField(blank=True, default="")
    # Terminal outcome, written once the current run ends (or on cancel).
    final_status = models.CharField(max_length=30, blank=True, default="")
    started_at = models.DateTimeField(null=True, blank=True)
    started_event_run = models.IntegerField(default=-1)
    completed_at = models.DateTimeField(null=True, blank=True)
    diff = models.TextField(null=True, blank=True)
    error_message = models.TextField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title


class PullRequest(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    fix = models.ForeignKey(Fix, on_delete=models.CASCADE, related_name="pull_requests")
    source_repo = models.ForeignKey(SourceRepo, on_delete=models.CASCADE)
    repo_full_name = models.CharField(max_length=200)
    branch_name = models.CharField(max_length=200)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True, default="")
    pr_number = models.PositiveIntegerField()
    merge_status = models.CharField(max_length=20, default="open")
    diff = models.TextField()
    created_at = models.DateTimeField()
    merged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pr_number"]

    def __str__(self) -> str:
        return self.pr_url

    @property
    def pr_url(self) -> str:
        return f"{self.source_repo.html_url}/pull/{self.pr_number}"


class FaultConfig(models.Model):
    """Faults injected into one organization's API responses, reproducible by seed."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="fault_config"
    )
    latency_ms = models.PositiveIntegerField(default=0)
    jitter_ms = models.PositiveIntegerField(default=0)
    rate_429 = models.FloatField(default=0.0)
    retry_after_seconds = models.PositiveIntegerField(default=1)
    rate_5xx = models.FloatField(default=0.0)
    slow_ms = models.PositiveIntegerField(default=0)
    slow_rate = models.FloatField(default=0.0)
    malformed_rate = models.FloatField(default=0.0)
    seed = models.IntegerField(default=0)
    request_counter = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"faults of {self.organization_id}"
