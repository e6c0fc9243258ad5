"""Read side of fixes and approvals: lists, the fix page and its diff, the approvals queue."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property

from django.core.cache import cache
from django.db.models import Prefetch, QuerySet

from triage.diffs import DiffFile, ParsedDiff, highlight_file, parse_diff
from triage.models import (
    AuditEvent,
    Finding,
    Fix,
    FixApproval,
    FixDiffVersion,
    FixStatus,
    PullRequest,
    PullRequestOpening,
    ReviewComment,
    ReviewedFile,
    Team,
)

FIX_STATUS_FILTERS = (
    FixStatus.PENDING,
    FixStatus.RUNNING,
    FixStatus.COMPLETED,
    FixStatus.FAILED,
    FixStatus.CANCELLED,
)


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
        .defer("diff")  # read only when a diff is not already parsed and cached
        .first()
    )


def fix_findings(fix: Fix) -> list[Finding]:
    return list(
        Finding.objects.filter(connection_id=fix.connection_id, upstream_id__in=fix.finding_ids)
    )


class DiffChoice:
    """The diff shown on the fix page: the current one or an earlier kept version. Its text is
    read from the database only when asked for (the outline and files are cached by hash)."""

    def __init__(self, *, sha256: str, number: int | None, is_current: bool, load):
        self.sha256 = sha256
        self.number = number
        self.is_current = is_current
        self._load = load

    @cached_property
    def text(self) -> str | None:
        return self._load()


def diff_versions(fix: Fix) -> list[FixDiffVersion]:
    return list(FixDiffVersion.objects.filter(fix=fix).defer("diff").order_by("number"))


def diff_choice(
    *, fix: Fix, sha256: str = "", versions: list[FixDiffVersion] | None = None
) -> DiffChoice | None:
    """The current diff, or the kept version with ``sha256``; ``versions`` (from
    `diff_versions`) saves a query when the caller has them."""
    if versions is None:
        versions = diff_versions(fix)
    if sha256 and sha256 != fix.diff_sha256:
        version = next((v for v in versions if v.sha256 == sha256), None)
        if version is None:
            return None
        return DiffChoice(
            sha256=version.sha256,
            number=version.number,
            is_current=False,
            load=lambda: FixDiffVersion.objects.values_list("diff", flat=True).get(pk=version.pk),
        )
    number = next((v.number for v in versions if v.sha256 == fix.diff_sha256), None)
    return DiffChoice(sha256=fix.diff_sha256, number=number, is_current=True, load=lambda: fix.diff)


# A diff is immutable under its SHA-256, so its outline and its highlighted files are cached
# by hash: a 5,000-line diff is parsed and highlighted once, not on every page view.
DIFF_CACHE_SECONDS = 24 * 3600


def _outline_key(sha256: str) -> str:
    return f"fixdiff:outline:v2:{sha256}"


def _file_key(sha256: str, index: int) -> str:
    return f"fixdiff:file:v2:{sha256}:{index}"


def parsed_diff(choice: DiffChoice) -> ParsedDiff:
    """The diff's files with their +/- counts, without their lines (the page's outline)."""
    if not choice.sha256:
        return parse_diff(choice.text)
    outline = cache.get(_outline_key(choice.sha256))
    if outline is None:
        parsed = parse_diff(choice.text)
        outline = ParsedDiff(
            files=[replace(f, lines=[]) for f in parsed.files],
            state=parsed.state,
            problems=parsed.problems,
            hidden_characters=parsed.hidden_characters,
        )
        cache.set(_outline_key(choice.sha256), outline, DIFF_CACHE_SECONDS)
    return outline


def diff_file_highlighted(choice: DiffChoice, index: int) -> DiffFile | None:
    """One file of the diff with its lines highlighted by Pygments (cached by hash)."""
    key = _file_key(choice.sha256, index)
    diff_file = cache.get(key) if choice.sha256 else None
    if diff_file is None:
        parsed = parse_diff(choice.text)
        if index >= len(parsed.files):
            return None
        diff_file = highlight_file(parsed.files[index])
        if choice.sha256:
            cache.set(key, diff_file, DIFF_CACHE_SECONDS)
    return diff_file


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


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    event: AuditEvent | None = None
    milestone: str = ""


def fix_timeline(fix: Fix) -> list[TimelineEntry]:
    """What people did in the portal (the audit log) and what Kolega reported, in time order."""
    entries = [
        TimelineEntry(at=event.created_at, event=event)
        for event in AuditEvent.objects.filter(
            team_id=fix.team_id, target_type="fix", target_id=str(fix.pk)
        ).order_by("created_at", "id")[:500]
    ]
    if fix.started_at:
        entries.append(TimelineEntry(at=fix.started_at, milestone="Kolega started running the fix"))
    if fix.completed_at:
        entries.append(
            TimelineEntry(
                at=fix.completed_at, milestone=f"Kolega finished the run: {fix.status_label}"
            )
        )
    return sorted(entries, key=lambda entry: entry.at)


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
