"""The local mirror of what a team's Kolega organizations hold.

Every row is keyed by (connection, upstream id) and written only by `triage/sync/` (and by
services after a successful write to Kolega). Field names follow the contract so that a
mirrored row and the API's answer can be compared field by field; upstream timestamps are
stored as Kolega gave them. `team` is denormalized onto every row because every page filters
by team first and the indexes start with it.
"""

from collections.abc import Iterable, Mapping

from django.conf import settings
from django.db import connection as db
from django.db import models
from django.db.models import Q

from triage.models.connections import KolegaConnection
from triage.models.teams import Team


class Severity(models.TextChoices):
    """A finding's severity; Kolega documents the first four, and clients tolerate `info`."""

    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"
    INFO = "info", "Info"


class FindingStatus(models.TextChoices):
    OPEN = "open", "Open"
    NEEDS_MANUAL_REVIEW = "needs_manual_review", "Needs manual review"
    RESOLVED = "resolved", "Resolved"
    IGNORED = "ignored", "Ignored"
    FALSE_POSITIVE = "false_positive", "False positive"


class ScanType(models.TextChoices):
    SECRETS = "secrets_scan", "Secrets"
    CODE = "semgrep_scan", "Code (SAST)"
    DEPENDENCIES = "sbom_scan", "Dependencies (SCA)"
    DEEP_AI = "deep_ai_scan", "Deep AI"


class FindingEventType(models.TextChoices):
    DETECTED = "detected", "Detected"
    RESOLVED_AUTO = "resolved_auto", "Resolved (no longer detected)"
    RESOLVED_MANUAL = "resolved_manual", "Resolved (manual)"
    RESOLVED_PR_MERGED = "resolved_pr_merged", "Resolved (pull request merged)"
    RESOLVED_PR_LINKED = "resolved_pr_linked", "Resolved (pull request linked)"
    REOPENED = "reopened", "Reopened"
    STATUS_CHANGED = "status_changed", "Status changed"
    FIX_CREATED = "fix_created", "Fix created"
    FIX_STARTED = "fix_started", "Fix started"
    FIX_COMPLETED = "fix_completed", "Fix completed"
    FIX_FAILED = "fix_failed", "Fix failed"
    FIX_CANCELLED = "fix_cancelled", "Fix cancelled"
    FIX_PR_CREATED = "fix_pr_created", "Fix pull request opened"
    FIX_PR_UPDATED = "fix_pr_updated", "Fix pull request updated"


class ScanBatchStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    CREATING_SCANS = "creating_scans", "Creating scans"
    SCANNING = "scanning", "Scanning"
    ASSESSING = "assessing", "Assessing"
    COMPLETED = "completed", "Completed"
    PARTIAL_FAILURE = "partial_failure", "Partial failure"
    FAILED = "failed", "Failed"


class FixStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    PR_CREATION_FAILED = "pr_creation_failed", "Pull request creation failed"
    PR_UPDATE_FAILED = "pr_update_failed", "Pull request update failed"


# Kolega's official client compares statuses case-insensitively and also treats `succeeded`
# and `cancelled` as terminal, though the documented enumerations do not list them.
SCAN_TERMINAL_STATUSES = frozenset(
    {
        ScanBatchStatus.COMPLETED,
        "succeeded",
        ScanBatchStatus.FAILED,
        ScanBatchStatus.PARTIAL_FAILURE,
        "cancelled",
    }
)
# Batches whose scans ran: a partial failure still scanned most repositories.
SCAN_SCANNED_STATUSES = (ScanBatchStatus.COMPLETED, "succeeded", ScanBatchStatus.PARTIAL_FAILURE)
FIX_TERMINAL_STATUSES = frozenset(
    {FixStatus.COMPLETED, "succeeded", FixStatus.FAILED, FixStatus.CANCELLED}
)
# A fix that failed to open or update its pull requests still has its diff and is done running.
FIX_SETTLED_STATUSES = FIX_TERMINAL_STATUSES | {
    FixStatus.PR_CREATION_FAILED,
    FixStatus.PR_UPDATE_FAILED,
}
# Statuses in which Kolega answers a diff for the fix's last run.
FIX_DIFF_STATUSES = (
    FixStatus.COMPLETED,
    "succeeded",
    FixStatus.PR_CREATION_FAILED,
    FixStatus.PR_UPDATE_FAILED,
)
# Unresolved findings: a finding waiting for manual review is still an exposure.
FINDING_UNRESOLVED_STATUSES = (FindingStatus.OPEN, FindingStatus.NEEDS_MANUAL_REVIEW)
# Statuses that dismiss a finding, which a team's policy may put behind a second person.
FINDING_DISMISSAL_STATUSES = (FindingStatus.IGNORED, FindingStatus.FALSE_POSITIVE)


def label_of(choices: type[models.TextChoices], value: str | None) -> str:
    """The label of one of `choices`' values, whatever its case; a value Kolega has added
    since is shown as it came, made readable."""
    if not value:
        return ""
    try:
        return choices(value.lower()).label
    except ValueError:
        return value.replace("_", " ").capitalize()


class LabelOf:
    """An attribute that reads as the label (``label_of``) of another attribute's value, as a
    model (or any object) shows a choice: ``status_label = LabelOf(FindingStatus, "status")``."""

    def __init__(self, choices: type[models.TextChoices], attribute: str) -> None:
        self.choices = choices
        self.attribute = attribute

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        return label_of(self.choices, getattr(instance, self.attribute))


def status_in(statuses) -> Q:
    """Rows whose status is one of `statuses`, in any case (Kolega's are compared so)."""
    query = Q()
    for status in statuses:
        query |= Q(status__iexact=status)
    return query


def scan_status_is_terminal(status: str) -> bool:
    return status.lower() in SCAN_TERMINAL_STATUSES


def fix_status_is_settled(status: str) -> bool:
    return status.lower() in FIX_SETTLED_STATUSES


class ScanBatchQuerySet(models.QuerySet):
    def active(self):
        """Batches still running: every status that is not terminal, unknown ones included."""
        return self.exclude(status_in(SCAN_TERMINAL_STATUSES))

    def terminal(self):
        return self.filter(status_in(SCAN_TERMINAL_STATUSES))

    def scanned(self):
        """Finished batches whose scans ran. A plain IN, so the (team, status) index answers
        it; sync stores Kolega's statuses as it sends them, lower case."""
        return self.filter(status__in=SCAN_SCANNED_STATUSES)


class FixQuerySet(models.QuerySet):
    def unsettled(self):
        """Fixes still running or waiting to run (unknown statuses included)."""
        return self.exclude(status_in(FIX_SETTLED_STATUSES))

    def with_diff(self):
        """Fixes whose last run ended with a diff Kolega can answer."""
        return self.filter(status_in(FIX_DIFF_STATUSES))


class FindingQuerySet(models.QuerySet):
    def unresolved(self):
        return self.filter(status__in=FINDING_UNRESOLVED_STATUSES)


class MirrorModel(models.Model):
    # Not indexed alone: the unique (connection, upstream_id) and the (team, ...) indexes of
    # each model start with them, and every extra index slows the bulk upserts.
    connection = models.ForeignKey(
        KolegaConnection, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+", db_index=False)
    upstream_id = models.CharField(max_length=300)
    synced_at = models.DateTimeField()

    class Meta:
        abstract = True


class TrackedMirrorModel(MirrorModel):
    """A mirror row whose progress a tracking chain polls until it settles (see tasks)."""

    # Tracking chain state: the poll the current chain has scheduled next.
    next_poll_at = models.DateTimeField(null=True, blank=True)
    polls = models.IntegerField(default=0)

    class Meta:
        abstract = True


def upstream_unique(name: str) -> models.UniqueConstraint:
    """The constraint every mirror model has: one row per upstream id and connection."""
    return models.UniqueConstraint(fields=["connection", "upstream_id"], name=name)


def team_status_and_created_indexes(prefix: str) -> list[models.Index]:
    """The indexes of a tracked model's team lists: by status, and newest first."""
    return [
        models.Index(fields=["team", "status"], name=f"{prefix}_team_status"),
        models.Index(fields=["team", "-created_at"], name=f"{prefix}_team_created"),
    ]


class Repository(MirrorModel):
    """A Kolega repository: a named group of source repos scanned together."""

    name = models.CharField(max_length=300)
    description = models.TextField(null=True, blank=True)
    # [{full_name, default_branch, html_url, provider}] exactly as Kolega lists them.
    source_repos = models.JSONField(default=list)
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "repositories"
        constraints = [upstream_unique("mirror_repository_upstream")]
        indexes = [models.Index(fields=["team", "name"], name="mirror_repository_team_name")]

    def __str__(self) -> str:
        return self.name


class ScanBatch(TrackedMirrorModel):
    """A scan batch (`batch_id` upstream) with the last progress seen by sync or tracking."""

    Status = ScanBatchStatus
    ScanType = ScanType
    TERMINAL_STATUSES = SCAN_TERMINAL_STATUSES

    repository = models.ForeignKey(
        Repository, on_delete=models.CASCADE, related_name="scan_batches"
    )
    scan_type = models.CharField(max_length=40, choices=ScanType.choices)
    status = models.CharField(max_length=40, choices=ScanBatchStatus.choices)
    total_repositories = models.IntegerField(default=0)
    scans_created = models.IntegerField(default=0)
    scans_failed = models.IntegerField(default=0)
    scans_completed = models.IntegerField(default=0)
    scans_assessed = models.IntegerField(default=0)
    error_message = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # From `/progress`: percent and the per-source-repo breakdown, as Kolega lists it.
    percent_complete = models.FloatField(null=True, blank=True)
    progress_repositories = models.JSONField(default=list, blank=True)
    progress_synced_at = models.DateTimeField(null=True, blank=True)
    # From `/results` once terminal, and when the batch's findings were last listed.
    results_findings_count = models.IntegerField(null=True, blank=True)
    findings_synced_at = models.DateTimeField(null=True, blank=True)

    objects = ScanBatchQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "scan batches"
        constraints = [upstream_unique("mirror_scan_batch_upstream")]
        indexes = team_status_and_created_indexes("mirror_batch")

    def __str__(self) -> str:
        return f"{self.scan_type_label} {self.upstream_id}"

    @property
    def is_terminal(self) -> bool:
        return scan_status_is_terminal(self.status)

    status_label = LabelOf(ScanBatchStatus, "status")

    scan_type_label = LabelOf(ScanType, "scan_type")


def owner_key(to: str) -> models.ForeignKey:
    """A finding's owner column: emptied when its owner goes; indexed with the team."""
    return models.ForeignKey(
        to, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )


class Finding(MirrorModel):
    Severity = Severity
    Status = FindingStatus
    ScanType = ScanType
    UNRESOLVED_STATUSES = FINDING_UNRESOLVED_STATUSES
    DISMISSAL_STATUSES = FINDING_DISMISSAL_STATUSES

    # Not indexed alone: the (repository, status) index starts with it, and each index is
    # written again whenever a finding's row moves (an owner change rewrites every one).
    repository = models.ForeignKey(
        Repository, on_delete=models.CASCADE, related_name="findings", db_index=False
    )
    check_id = models.CharField(max_length=300)
    severity = models.CharField(max_length=20, choices=Severity.choices)
    status = models.CharField(max_length=40, choices=FindingStatus.choices)
    file_path = models.CharField(max_length=1000)
    message = models.TextField()
    title = models.CharField(max_length=500, null=True, blank=True)
    category = models.CharField(max_length=200)
    scan_type = models.CharField(max_length=40, choices=ScanType.choices)
    cwe = models.JSONField(default=list)
    owasp = models.JSONField(default=list)
    references = models.JSONField(default=list)
    source_url = models.CharField(max_length=2000, null=True, blank=True)
    cvss_base_score = models.FloatField(null=True, blank=True)
    cvss_severity = models.CharField(max_length=20, null=True, blank=True)
    cvss_vector = models.CharField(max_length=300, null=True, blank=True)
    first_detected_at = models.DateTimeField()
    last_detected_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # Portal state beside the mirror (see models/ownership.py): never written by a sync.
    owner_member = owner_key(settings.AUTH_USER_MODEL)
    owner_squad = owner_key("triage.Squad")
    # True when a person assigned the finding: the rules leave it alone.
    owner_explicit = models.BooleanField(default=False)
    scan_batches = models.ManyToManyField(
        ScanBatch, through="ScanBatchFinding", related_name="findings"
    )

    objects = FindingQuerySet.as_manager()

    class Meta:
        ordering = ["-last_detected_at", "-id"]
        constraints = [upstream_unique("mirror_finding_upstream")]
        indexes = [
            models.Index(
                fields=["team", "status", "severity"], name="mirror_finding_team_status_sev"
            ),
            models.Index(fields=["team", "scan_type"], name="mirror_finding_team_scan_type"),
            # Newest last seen first is mirror_finding_triage_last (team, last_detected_at, id,
            # migration 0009) read backwards: no index of its own.
            models.Index(fields=["repository", "status"], name="mirror_finding_repo_status"),
            # Reports: open findings by severity and age (SLA counts, the lists behind them,
            # per-repository and per-owner risk) read from the index alone, and time to
            # remediate over the findings resolved in a period.
            models.Index(
                fields=["team", "severity", "first_detected_at", "id"],
                include=["repository", "owner_squad", "owner_member"],
                condition=models.Q(status__in=list(FINDING_UNRESOLVED_STATUSES)),
                name="mirror_finding_open_sla",
            ),
            # Reports: findings resolved in a period, with what their time-to-remediate
            # figures group by, read from the index alone (no heap page per finding).
            models.Index(
                fields=["team", "resolved_at"],
                include=[
                    "id",
                    "status",
                    "severity",
                    "first_detected_at",
                    "owner_squad",
                    "owner_member",
                ],
                condition=models.Q(resolved_at__isnull=False),
                name="mirror_finding_resolved_cover",
            ),
            # A member's or a squad's findings, each severity in order of first detection (and
            # id, the order's tie-break): the SLA-due order of an owner's findings walks these
            # severity by severity, reading a page's rows in order rather than sorting them.
            models.Index(
                fields=["team", "owner_member", "severity", "first_detected_at", "id"],
                name="mirror_finding_team_owner",
            ),
            models.Index(
                fields=["team", "owner_squad", "severity", "first_detected_at", "id"],
                name="mirror_finding_team_squad",
            ),
            # Findings grouped by rule: per check_id and repository its severities and
            # statuses read from the index alone, in order; a rule's findings are found by it.
            models.Index(
                fields=["team", "check_id", "repository", "severity", "status"],
                name="mirror_finding_team_rule",
            ),
            # My queue: a member's and a squad's open findings, with what their SLA due date
            # is worked out from, read from the index (its count in the navigation, its page).
            models.Index(
                fields=["team", "owner_member", "severity", "first_detected_at", "id"],
                condition=models.Q(status__in=list(FINDING_UNRESOLVED_STATUSES)),
                name="mirror_finding_open_member",
            ),
            models.Index(
                fields=["team", "owner_squad", "severity", "first_detected_at", "id"],
                condition=models.Q(status__in=list(FINDING_UNRESOLVED_STATUSES)),
                name="mirror_finding_open_squad",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.check_id} {self.file_path}"

    severity_label = LabelOf(Severity, "severity")

    status_label = LabelOf(FindingStatus, "status")

    scan_type_label = LabelOf(ScanType, "scan_type")

    @staticmethod
    def search_text_of(*, title: str | None, message: str, check_id: str, file_path: str) -> str:
        return "\n".join(part for part in (title, message, check_id, file_path) if part).lower()


class FindingSearchQuerySet(models.QuerySet):
    def write(self, texts: Mapping[int, str]) -> int:
        """Store each finding's text (by finding primary key); answer how many rows were
        written. On PostgreSQL an unchanged text is not written again, so a re-sync leaves the
        trigram index alone."""
        if not texts:
            return 0
        if db.vendor == "postgresql":
            table = db.ops.quote_name(self.model._meta.db_table)
            with db.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {table} (finding_id, text) "
                    "SELECT * FROM unnest(%s::bigint[], %s::text[]) "
                    "ON CONFLICT (finding_id) DO UPDATE SET text = EXCLUDED.text "
                    f"WHERE {table}.text IS DISTINCT FROM EXCLUDED.text",
                    [list(texts), list(texts.values())],
                )
                return max(cursor.rowcount, 0)
        rows = [self.model(finding_id=pk, text=text) for pk, text in texts.items()]
        self.bulk_create(
            rows, update_conflicts=True, unique_fields=["finding"], update_fields=["text"]
        )
        return len(rows)

    def write_of(self, findings: Iterable[Finding]) -> int:
        """Store the text of saved findings, worked out from their fields."""
        return self.write({finding.pk: FindingSearch.text_of(finding) for finding in findings})


class FindingSearch(models.Model):
    """A finding's lower-cased title, message, check id and file path: the text the findings
    page searches, with a trigram index on PostgreSQL (a plain LIKE scan on SQLite).

    A table of its own, beside the finding: each index of the findings table is written again
    whenever a finding's row moves (an owner change, a new last-seen time), and the trigram
    index is the costliest of them. Here it is written only when the text itself changes.
    """

    finding = models.OneToOneField(
        Finding, on_delete=models.CASCADE, primary_key=True, related_name="search"
    )
    text = models.TextField(default="")

    objects = FindingSearchQuerySet.as_manager()

    def __str__(self) -> str:
        return f"search text of finding {self.finding_id}"

    @staticmethod
    def text_of(finding: Finding) -> str:
        return Finding.search_text_of(
            title=finding.title,
            message=finding.message,
            check_id=finding.check_id,
            file_path=finding.file_path,
        )


class ScanBatchFinding(models.Model):
    """A finding reported by a scan batch (`GET /findings?scan_batch_id=`)."""

    scan_batch = models.ForeignKey(ScanBatch, on_delete=models.CASCADE)
    finding = models.ForeignKey(Finding, on_delete=models.CASCADE)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scan_batch", "finding"], name="mirror_scan_batch_finding_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.scan_batch_id}/{self.finding_id}"


class FindingEvent(MirrorModel):
    """One entry of the organization's finding-events feed; the upstream id dedupes it."""

    EventType = FindingEventType

    organization_id = models.CharField(max_length=64)
    repository_upstream_id = models.CharField(max_length=64)
    finding_upstream_id = models.CharField(max_length=64)
    scan_id = models.CharField(max_length=64, null=True, blank=True)
    scan_type = models.CharField(max_length=40, null=True, blank=True, choices=ScanType.choices)
    event_type = models.CharField(max_length=40, choices=FindingEventType.choices)
    previous_status = models.CharField(max_length=40, null=True, blank=True)
    new_status = models.CharField(max_length=40, null=True, blank=True)
    severity = models.CharField(max_length=20, null=True, blank=True)
    check_id = models.CharField(max_length=300, null=True, blank=True)
    file_path = models.CharField(max_length=1000, null=True, blank=True)
    actor_user_id = models.CharField(max_length=100, null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    event_timestamp = models.DateTimeField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-event_timestamp", "-id"]
        constraints = [upstream_unique("mirror_finding_event_upstream")]
        indexes = [
            models.Index(fields=["team", "-event_timestamp"], name="mirror_event_team_time"),
            models.Index(fields=["connection", "finding_upstream_id"], name="mirror_event_finding"),
            # Events of one type in a time window (today's reopened findings on the reports
            # page) without reading the team's other events of that window.
            models.Index(
                fields=["team", "event_type", "event_timestamp"], name="mirror_event_team_type_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.upstream_id}"

    event_type_label = LabelOf(FindingEventType, "event_type")

    scan_type_label = LabelOf(ScanType, "scan_type")


class FindingEventBaseline(models.Model):
    """What a finding's pruned events had made of it: the status and severity its history
    had reached at `as_of`, when the events before were deleted (retention).

    A replay of the remaining events starts from here, so the open counts of every day from
    `as_of` on are what the whole history gives. Written only by the pruning of old events.
    """

    connection = models.ForeignKey(
        KolegaConnection, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+", db_index=False)
    finding_upstream_id = models.CharField(max_length=64)
    # None when the pruned events never set a status (fix activity only).
    status = models.CharField(max_length=40, null=True, blank=True)
    severity = models.CharField(max_length=20)
    as_of = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "finding_upstream_id"], name="mirror_event_baseline_finding"
            )
        ]
        indexes = [models.Index(fields=["team"], name="mirror_event_baseline_team")]

    def __str__(self) -> str:
        return f"{self.finding_upstream_id} as of {self.as_of:%Y-%m-%d}: {self.status}"


class Fix(TrackedMirrorModel):
    """An AI fix run, its heartbeat and the latest diff fetched from Kolega."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="fixes")
    Status = FixStatus
    SETTLED_STATUSES = FIX_SETTLED_STATUSES
    DIFF_STATUSES = FIX_DIFF_STATUSES

    finding_ids = models.JSONField(default=list)
    title = models.CharField(max_length=500)
    status = models.CharField(max_length=40, choices=FixStatus.choices)
    source_repo = models.CharField(max_length=300, null=True, blank=True)
    source_repo_provider = models.CharField(max_length=40, null=True, blank=True)
    source_scan_branch = models.CharField(max_length=300, null=True, blank=True)
    source_base_commit_sha = models.CharField(max_length=64, null=True, blank=True)
    error_message = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # From `/progress` (a heartbeat with no content).
    duration_seconds = models.FloatField(null=True, blank=True)
    agent_steps_completed = models.IntegerField(default=0)
    latest_activity_at = models.DateTimeField(null=True, blank=True)
    progress_synced_at = models.DateTimeField(null=True, blank=True)
    # From `/diff`: the latest diff, its hash (approvals are bound to it) and the fix status
    # and completion time it was fetched for, so a refined fix is known to need a new fetch.
    diff = models.TextField(null=True, blank=True)
    diff_sha256 = models.CharField(max_length=64, blank=True)
    diff_for_completed_at = models.DateTimeField(null=True, blank=True)
    diff_synced_at = models.DateTimeField(null=True, blank=True)

    objects = FixQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "fixes"
        constraints = [upstream_unique("mirror_fix_upstream")]
        indexes = team_status_and_created_indexes("mirror_fix")

    def __str__(self) -> str:
        return self.title

    @property
    def is_settled(self) -> bool:
        return fix_status_is_settled(self.status)

    status_label = LabelOf(FixStatus, "status")

    @property
    def needs_diff(self) -> bool:
        """Completed, and the diff held is missing or belongs to an earlier run."""
        return self.status.lower() in FIX_DIFF_STATUSES and (
            self.diff_synced_at is None or self.diff_for_completed_at != self.completed_at
        )


class PullRequest(MirrorModel):
    """A pull request opened by a fix. Kolega gives it no id: `<repo_full_name>#<pr_number>`
    is its upstream id."""

    class MergeStatus(models.TextChoices):
        """Kolega's merge statuses; a value it adds later is kept and shown as it comes."""

        OPEN = "open", "Open"
        MERGED = "merged", "Merged"
        CLOSED = "closed", "Closed"

    fix = models.ForeignKey(Fix, on_delete=models.CASCADE, related_name="pull_requests")
    repo_full_name = models.CharField(max_length=300)
    branch_name = models.CharField(max_length=300)
    pr_number = models.IntegerField()
    pr_url = models.CharField(max_length=1000)
    merge_status = models.CharField(max_length=20, choices=MergeStatus.choices)
    created_at = models.DateTimeField()
    merged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pr_number"]
        constraints = [upstream_unique("mirror_pull_request_upstream")]
        indexes = [models.Index(fields=["team", "merge_status"], name="mirror_pr_team_status")]

    def __str__(self) -> str:
        return self.pr_url
