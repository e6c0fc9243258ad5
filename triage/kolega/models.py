"""Typed models of the Kolega public API schemas (kolega-api/openapi.json).

Statuses, severities and other enumerations stay plain strings: the vendor adds values over
time and an unknown value must be shown as it comes, not crash a sync. Unknown fields are
ignored for the same reason. `CONTRACT_SCHEMAS` maps each contract schema to its model; a
test compares the two so they cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field


class KolegaModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


T = TypeVar("T", bound=KolegaModel)


class RunTimes(KolegaModel):
    """When a run (a scan batch, one source repo's scan, a fix) started and ended; both stay
    None until it has."""

    started_at: datetime | None = None
    completed_at: datetime | None = None


class Page(KolegaModel, Generic[T]):
    """One page of a list endpoint (`PublicPaginatedResponse_*`)."""

    items: list[T]
    total: int
    limit: int
    skip: int
    has_next: bool


# Identity


class ApiKeySummary(KolegaModel):
    id: str
    name: str
    key_prefix: str
    scopes: list[str] = Field(default_factory=list)


class Me(KolegaModel):
    organization_id: str
    organization_name: str
    organization_slug: str
    api_key: ApiKeySummary


# Repositories


class RepositoryRef(KolegaModel):
    """A source repository (owner/repo on a provider) that belongs to a Kolega repository."""

    full_name: str
    default_branch: str
    html_url: str | None = None
    provider: str


class Repository(KolegaModel):
    id: str
    name: str
    description: str | None = None
    repositories: list[RepositoryRef] = Field(default_factory=list)
    archived: bool
    created_at: datetime
    updated_at: datetime


# Scans


class ScanBatchCounts(KolegaModel):
    """The fields a scan batch and its progress share: its identity and per-scan counts."""

    batch_id: str
    repository_id: str
    scan_type: str
    status: str
    total_repositories: int
    scans_created: int
    scans_failed: int
    scans_completed: int
    scans_assessed: int


class ScanBatch(ScanBatchCounts, RunTimes):
    error_message: str | None = None
    created_at: datetime


class ScanProgressRepository(RunTimes):
    repository: str
    branch: str
    status: str
    status_reason: str | None = None
    findings_count: int | None = None


class ScanProgress(ScanBatchCounts, RunTimes):
    percent_complete: float
    error_message: str | None = None
    repositories: list[ScanProgressRepository] = Field(default_factory=list)


class ScanFindingSummary(KolegaModel):
    check_id: str
    file_path: str
    severity: str
    message: str
    cwe: list[str] = Field(default_factory=list)
    owasp: list[str] = Field(default_factory=list)
    fingerprint: str


class ScanResults(KolegaModel):
    batch_id: str
    scan_type: str
    status: str
    findings_count: int
    findings: list[ScanFindingSummary]


# Findings


class Finding(KolegaModel):
    id: str
    repository_id: str
    check_id: str
    severity: str
    status: str
    file_path: str
    message: str
    title: str | None = None
    category: str
    scan_type: str
    cwe: list[str] = Field(default_factory=list)
    owasp: list[str] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list)
    source_url: str | None = None
    cvss_base_score: float | None = None
    cvss_severity: str | None = None
    cvss_vector: str | None = None
    first_detected_at: datetime
    last_detected_at: datetime
    resolved_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class FindingEvent(KolegaModel):
    id: str
    organization_id: str
    repository_id: str
    finding_id: str
    scan_id: str | None = None
    scan_type: str | None = None
    event_type: str
    previous_status: str | None = None
    new_status: str | None = None
    severity: str | None = None
    check_id: str | None = None
    file_path: str | None = None
    actor_user_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    event_timestamp: datetime
    created_at: datetime


# Fixes and pull requests


class PullRequest(KolegaModel):
    repo_full_name: str
    branch_name: str
    pr_number: int
    pr_url: str
    merge_status: str
    created_at: datetime
    merged_at: datetime | None = None


class Fix(RunTimes):
    id: str
    repository_id: str
    finding_ids: list[str]
    title: str
    status: str
    source_repo: str | None = None
    source_repo_provider: str | None = None
    source_scan_branch: str | None = None
    source_base_commit_sha: str | None = None
    error_message: str | None = None
    pull_requests: list[PullRequest] = Field(default_factory=list)
    created_at: datetime


class FixDiff(KolegaModel):
    fix_id: str
    status: str
    diff: str | None = None


class FixProgress(RunTimes):
    fix_id: str
    repository_id: str
    status: str
    duration_seconds: float | None = None
    agent_steps_completed: int = 0
    latest_activity_at: datetime | None = None
    error_message: str | None = None


class PullRequestsCreated(KolegaModel):
    fix_id: str
    pull_requests: list[PullRequest]


# Quotas


class QuotaCounter(KolegaModel):
    plan: int
    topup: int
    used: int
    remaining: int


class RepositoryQuota(KolegaModel):
    max: int | None = None
    current: int


class QuotaBalance(KolegaModel):
    period_start: datetime
    period_end: datetime
    prs: QuotaCounter
    sast_scans: QuotaCounter
    deep_ai_scans: QuotaCounter
    repositories: RepositoryQuota


# Request bodies


class ScanCreateRequest(KolegaModel):
    scan_type: str


class FindingStatusUpdateRequest(KolegaModel):
    status: str


class FixCreateRequest(KolegaModel):
    finding_ids: list[str] = Field(default_factory=list)
    title: str
    instructions: str
    source_repo: str
    source_repo_provider: str = "github"
    source_scan_branch: str | None = None


class FixRefineRequest(KolegaModel):
    instructions: str


class CreatePullRequestsRequest(KolegaModel):
    title: str | None = None
    body: str | None = None
    branch_name: str | None = None


# Errors


class ValidationErrorDetail(KolegaModel):
    loc: list[str | int]
    msg: str
    type: str
    input: Any = None
    ctx: dict[str, Any] = Field(default_factory=dict)


class HTTPValidationError(KolegaModel):
    detail: list[ValidationErrorDetail] = Field(default_factory=list)


CONTRACT_SCHEMAS: dict[str, type[KolegaModel]] = {
    "HTTPValidationError": HTTPValidationError,
    "ValidationError": ValidationErrorDetail,
    "PublicApiKeySummary": ApiKeySummary,
    "PublicMeResponse": Me,
    "PublicRepositoryRef": RepositoryRef,
    "PublicRepositoryResponse": Repository,
    "PublicScanBatchResponse": ScanBatch,
    "PublicScanProgressRepository": ScanProgressRepository,
    "PublicScanProgressResponse": ScanProgress,
    "PublicScanFindingSummary": ScanFindingSummary,
    "PublicScanResultsResponse": ScanResults,
    "PublicFindingResponse": Finding,
    "PublicFindingEventResponse": FindingEvent,
    "PublicFixPullRequestSummary": PullRequest,
    "PublicFixResponse": Fix,
    "PublicFixDiffResponse": FixDiff,
    "PublicFixProgressResponse": FixProgress,
    "PublicPullRequestsCreatedResponse": PullRequestsCreated,
    "PublicQuotaCounter": QuotaCounter,
    "PublicRepositoryQuota": RepositoryQuota,
    "PublicQuotaBalanceResponse": QuotaBalance,
    "PublicScanCreateRequest": ScanCreateRequest,
    "PublicFindingStatusUpdateRequest": FindingStatusUpdateRequest,
    "PublicFixCreateRequest": FixCreateRequest,
    "PublicFixRefineRequest": FixRefineRequest,
    "PublicCreatePRRequest": CreatePullRequestsRequest,
    "PublicPaginatedResponse_PublicRepositoryResponse_": Page[Repository],
    "PublicPaginatedResponse_PublicScanBatchResponse_": Page[ScanBatch],
    "PublicPaginatedResponse_PublicFindingResponse_": Page[Finding],
    "PublicPaginatedResponse_PublicFindingEventResponse_": Page[FindingEvent],
    "PublicPaginatedResponse_PublicFixResponse_": Page[Fix],
}
"""Every object schema of the contract and the model that reads it (enums are plain `str`)."""
