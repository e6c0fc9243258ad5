"""Client of the Kolega DevSec public API; free of Django so it can be used anywhere."""

from triage.kolega import errors
from triage.kolega.client import OPERATIONS, ClientStats, KolegaClient
from triage.kolega.errors import *  # noqa: F403 (the exception family: errors.__all__)
from triage.kolega.models import (
    ApiKeySummary,
    Finding,
    FindingEvent,
    Fix,
    FixDiff,
    FixProgress,
    Me,
    Page,
    PullRequest,
    PullRequestsCreated,
    QuotaBalance,
    QuotaCounter,
    Repository,
    RepositoryQuota,
    RepositoryRef,
    ScanBatch,
    ScanFindingSummary,
    ScanProgress,
    ScanProgressRepository,
    ScanResults,
)
from triage.kolega.pagination import MAX_PAGES, iter_all, iter_pages, iter_pages_by_time
from triage.kolega.retry import RetryPolicy
from triage.kolega.version import PORTAL_VERSION

__all__ = [
    "MAX_PAGES",
    "OPERATIONS",
    "PORTAL_VERSION",
    "ApiKeySummary",
    "ClientStats",
    "Finding",
    "FindingEvent",
    "Fix",
    "FixDiff",
    "FixProgress",
    "KolegaClient",
    "Me",
    "Page",
    "PullRequest",
    "PullRequestsCreated",
    "QuotaBalance",
    "QuotaCounter",
    "Repository",
    "RepositoryQuota",
    "RepositoryRef",
    "RetryPolicy",
    "ScanBatch",
    "ScanFindingSummary",
    "ScanProgress",
    "ScanProgressRepository",
    "ScanResults",
    "iter_all",
    "iter_pages",
    "iter_pages_by_time",
    *errors.__all__,
]
