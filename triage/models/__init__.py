from triage.models.audit import AuditEvent
from triage.models.comments import FindingComment
from triage.models.connections import DEFAULT_KOLEGA_BASE_URL, KolegaConnection
from triage.models.dismissals import (
    DISMISSAL_STATUSES,
    DismissalDecision,
    DismissalRequest,
    DismissalRequestItem,
    FindingNote,
)
from triage.models.findings import FindingStatusJob, FindingStatusJobItem, SavedView
from triage.models.fixes import (
    ApprovalDecision,
    FixApproval,
    FixDiffVersion,
    PullRequestOpening,
    ReviewComment,
    ReviewedFile,
    TeamApprovalPolicy,
)
from triage.models.mirror import (
    Finding,
    FindingEvent,
    FindingEventType,
    FindingStatus,
    Fix,
    FixStatus,
    PullRequest,
    Repository,
    ScanBatch,
    ScanBatchFinding,
    ScanBatchStatus,
    ScanType,
    Severity,
    label_of,
)
from triage.models.ownership import OwnershipEvaluation, OwnershipRule, Squad
from triage.models.reports import DailyFindingSnapshot, ReportSnapshotState, SlaPolicy
from triage.models.sync import SyncRun, SyncState
from triage.models.teams import Invitation, Membership, Role, Team, UserPreference

__all__ = [
    "DEFAULT_KOLEGA_BASE_URL",
    "DISMISSAL_STATUSES",
    "ApprovalDecision",
    "AuditEvent",
    "DailyFindingSnapshot",
    "DismissalDecision",
    "DismissalRequest",
    "DismissalRequestItem",
    "Finding",
    "FindingComment",
    "FindingEvent",
    "FindingEventType",
    "FindingNote",
    "FindingStatus",
    "FindingStatusJob",
    "FindingStatusJobItem",
    "Fix",
    "FixApproval",
    "FixDiffVersion",
    "FixStatus",
    "Invitation",
    "KolegaConnection",
    "Membership",
    "OwnershipEvaluation",
    "OwnershipRule",
    "PullRequest",
    "PullRequestOpening",
    "ReportSnapshotState",
    "Repository",
    "ReviewComment",
    "ReviewedFile",
    "Role",
    "SavedView",
    "ScanBatch",
    "ScanBatchFinding",
    "ScanBatchStatus",
    "ScanType",
    "Severity",
    "SlaPolicy",
    "Squad",
    "SyncRun",
    "SyncState",
    "Team",
    "TeamApprovalPolicy",
    "UserPreference",
    "label_of",
]
