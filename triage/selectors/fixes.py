"""Read side of fixes and approvals: lists, the fix page and its diff, the approvals queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max, Prefetch, QuerySet
from django.utils import timezone

from triage.diffs import ParsedDiff, parse_diff
from triage.models import (
    AuditEvent,
    Finding,
    Fix,
    FixApproval,
    FixDiffVersion,
    PullRequest,
    PullRequestOpening,
    ReviewComment,
    ReviewedFile,
    Role,
    SyncState,
    Team,
)

FIX_STATUS_FILTERS = ("pending", "running", "completed", "failed", "cancelled")


def data_as_of(team: Team) -> datetime | None:
    """When the team's mirror was last brought up to date (the oldest of its connections)."""
    return SyncState.objects.filter(connection__team=team).aggregate(t=Max("last_success_at"))["t"]


def fixes_list(*, team: Team, status: str = "") -> QuerySet[Fix]:
    fixes = (
        Fix.objects.filter(team=team)
        .select_related("repository")
        .prefetch_related(
            Prefetch(
                "approvals",
                queryset=FixApproval.objects.filter(
                    status__in=[*FixApproval.OPEN_STATUSES, FixApproval.Status.REJECTED]
                ).order_by("-created_at"),
                to_attr="recent_approvals",
            ),
            "pull_requests",
        )
        .order_by("-created_at", "-id")
    )
    if status in FIX_STATUS_FILTERS:
        fixes = fixes.filter(status__iexact=status)
    return fixes


def fix_requesters(fixes: list[Fix]) -> dict[int, str]:
    """Who started each fix in the portal (from the audit log); fixes started elsewhere: none."""
    ids = [str(fix.pk) for fix in fixes]
    events = AuditEvent.objects.filter(
        target_type="fix", action="fix.create", target_id__in=ids
    ).values_list("target_id", "actor_label")
    return {int(target_id): label for target_id, label in events}


def fix_for_team(*, team: Team, fix_id: int) -> Fix | None:
    return (
        Fix.objects.filter(team=team, pk=fix_id)
        .select_related("repository", "connection", "team")
        .first()
    )


def fix_findings(fix: Fix) -> list[Finding]:
    return list(
        Finding.objects.filter(connection_id=fix.connection_id, upstream_id__in=fix.finding_ids)
    )


@dataclass
class DiffChoice:
    """The diff shown on the fix page: the current one or an earlier kept version."""

    sha256: str
    text: str | None
    number: int | None
    is_current: bool


def diff_versions(fix: Fix) -> list[FixDiffVersion]:
    return list(FixDiffVersion.objects.filter(fix=fix).defer("diff").order_by("number"))


def diff_choice(*, fix: Fix, sha256: str = "") -> DiffChoice | None:
    if sha256 and sha256 != fix.diff_sha256:
        version = FixDiffVersion.objects.filter(fix=fix, sha256=sha256).first()
        if version is None:
            return None
        return DiffChoice(
            sha256=version.sha256, text=version.diff, number=version.number, is_current=False
        )
    number = (
        FixDiffVersion.objects.filter(fix=fix, sha256=fix.diff_sha256)
        .values_list("number", flat=True)
        .first()
    )
    return DiffChoice(sha256=fix.diff_sha256, text=fix.diff, number=number, is_current=True)


def parsed_diff(choice: DiffChoice) -> ParsedDiff:
    return parse_diff(choice.text)


def reviewed_paths(*, fix: Fix, user, sha256: str) -> set[str]:
    return set(
        ReviewedFile.objects.filter(fix=fix, user=user, diff_sha256=sha256).values_list(
            "file_path", flat=True
        )
    )


def comment_counts(*, fix: Fix, sha256: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in ReviewComment.objects.filter(fix=fix, diff_sha256=sha256).values_list(
        "file_path", flat=True
    ):
        counts[path] = counts.get(path, 0) + 1
    return counts


def file_comment_threads(*, fix: Fix, sha256: str, path: str) -> dict[tuple[str, int], list]:
    """Threads of one file keyed by (side, line): each a root comment with its replies."""
    comments = list(
        ReviewComment.objects.filter(fix=fix, diff_sha256=sha256, file_path=path)
        .select_related("author")
        .order_by("created_at", "id")
    )
    roots = {c.pk: c for c in comments if c.parent_id is None}
    for root in roots.values():
        root.thread_replies = []
    for comment in comments:
        if comment.parent_id in roots:
            roots[comment.parent_id].thread_replies.append(comment)
    threads: dict[tuple[str, int], list] = {}
    for root in roots.values():
        threads.setdefault((root.side, root.line), []).append(root)
    return threads


def current_approval(fix: Fix) -> FixApproval | None:
    return (
        FixApproval.objects.filter(fix=fix)
        .select_related("requested_by")
        .prefetch_related("decisions__approver")
        .order_by("-created_at", "-id")
        .first()
    )


def current_opening(fix: Fix) -> PullRequestOpening | None:
    return PullRequestOpening.objects.filter(fix=fix).order_by("-created_at", "-id").first()


def fix_pull_requests(fix: Fix) -> list[PullRequest]:
    return list(PullRequest.objects.filter(fix=fix))


def fix_timeline(fix: Fix) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(
        team_id=fix.team_id, target_type="fix", target_id=str(fix.pk)
    ).order_by("created_at", "id")


def approvals_queue(*, team: Team, status: str = "pending") -> QuerySet[FixApproval]:
    approvals = (
        FixApproval.objects.filter(team=team)
        .select_related("fix", "fix__repository", "requested_by")
        .prefetch_related("decisions")
        .order_by("created_at", "id")
    )
    if status in FixApproval.Status.values:
        approvals = approvals.filter(status=status)
    return approvals


def pending_approvals_count(*, team: Team, membership) -> int | None:
    """The count in the navigation, for people who can approve."""
    if membership is None or not membership.has_role(Role.APPROVER):
        return None
    return FixApproval.objects.filter(team=team, status=FixApproval.Status.PENDING).count()


def age_of(moment: datetime) -> float:
    return (timezone.now() - moment).total_seconds()
