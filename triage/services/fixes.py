"""Writes on AI fixes: start, cancel, refine, review comments and "viewed" marks.

Writes go to Kolega first, then to the mirror, then to the audit log. A fix started or
refined here is tracked by the sync area's `track_fix` task, queued once the mirror row is
committed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Max

from triage.models import (
    Finding,
    Fix,
    FixApproval,
    FixDiffVersion,
    Repository,
    ReviewComment,
    ReviewedFile,
    Role,
    Team,
)
from triage.services.audit import audit_log
from triage.services.errors import ServiceError
from triage.services.kolega_errors import kolega_interactive
from triage.services.teams import require_role
from triage.sync.tracking import fix_mirror
from triage.task_queue import TaskName, task_send

CANCELLABLE_STATUSES = ("pending", "running")
# The most repositories one start covers: each is a fix and a quota unit, started while the
# person waits.
MAX_REPOSITORIES_PER_START = 10
REFINABLE_STATUSES = ("completed", "succeeded")


def diff_sha256_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _queue_tracking(fix_pk: int) -> None:
    transaction.on_commit(lambda: task_send(TaskName.TRACK_FIX, fix_pk))


def fix_title_proposed(*, findings: list[Finding]) -> str:
    """A title naming what is fixed: the one finding's title, or the count and the worst kind."""
    if not findings:
        return ""
    if len(findings) == 1:
        finding = findings[0]
        return f"Fix {finding.title or finding.check_id} in {finding.file_path}"[:200]
    check_ids = sorted({finding.check_id for finding in findings})
    files = sorted({finding.file_path for finding in findings})
    what = check_ids[0] if len(check_ids) == 1 else f"{len(check_ids)} kinds of issue"
    return f"Fix {len(findings)} findings ({what}) in {len(files)} file(s)"[:200]


@dataclass(frozen=True)
class FixPlan:
    """The findings of one repository that one fix covers, and what its form proposes."""

    repository: Repository
    findings: list[Finding]
    title: str
    source_repos: list[str]
    default_branch: str

    @property
    def source_repo_proposed(self) -> str:
        return self.source_repos[0] if len(self.source_repos) == 1 else ""


def fix_plans(*, findings: list[Finding]) -> list[FixPlan]:
    """One fix per repository: a fix covers findings of one repository, so findings chosen
    across repositories start one fix for each (repositories in name order). Refuses a
    selection that spans more repositories than one start may cover."""
    by_repository: dict[int, list[Finding]] = {}
    for finding in findings:
        by_repository.setdefault(finding.repository_id, []).append(finding)
    if len(by_repository) > MAX_REPOSITORIES_PER_START:
        raise ServiceError(
            f"These findings are in {len(by_repository)} repositories; one start covers at "
            f"most {MAX_REPOSITORIES_PER_START} (one fix each). Choose findings of fewer "
            "repositories."
        )
    plans = []
    for group in by_repository.values():
        repository = group[0].repository
        plans.append(
            FixPlan(
                repository=repository,
                findings=group,
                title=fix_title_proposed(findings=group),
                source_repos=[r.get("full_name") for r in repository.source_repos],
                default_branch=next(
                    (r.get("default_branch") or "" for r in repository.source_repos), ""
                ),
            )
        )
    return sorted(plans, key=lambda plan: (plan.repository.name, plan.repository.pk))


@dataclass(frozen=True)
class FixStartRequest:
    """What the start form says for one repository's fix."""

    finding_ids: list[int]
    title: str
    source_repo: str
    branch: str | None = None


@dataclass(frozen=True)
class FixStartOutcome:
    request: FixStartRequest
    fix: Fix | None = None
    error: str = ""
    error_field: str | None = None

    @property
    def started(self) -> bool:
        return self.fix is not None


def fixes_start(
    *, team: Team, actor, instructions: str, requests: list[FixStartRequest]
) -> list[FixStartOutcome]:
    """Start one fix per request (one per repository), each through Kolega on its own: a
    refusal of one (quota, validation, Kolega down) leaves the others started and is told
    for its repository."""
    require_role(team=team, user=actor, role=Role.TRIAGER)
    if len(requests) > MAX_REPOSITORIES_PER_START:
        raise ServiceError(f"One start covers at most {MAX_REPOSITORIES_PER_START} repositories.")
    outcomes = []
    for request in requests:
        try:
            fix = fix_start(
                team=team,
                actor=actor,
                finding_ids=request.finding_ids,
                title=request.title,
                instructions=instructions,
                source_repo=request.source_repo,
                branch=request.branch,
            )
        except ServiceError as exc:
            outcomes.append(
                FixStartOutcome(request=request, error=exc.message, error_field=exc.field)
            )
        else:
            outcomes.append(FixStartOutcome(request=request, fix=fix))
    return outcomes


def fix_start(
    *,
    team: Team,
    actor,
    finding_ids: list[int],
    title: str,
    instructions: str,
    source_repo: str,
    branch: str | None = None,
) -> Fix:
    """Start an AI fix for findings of one repository, after checking the `prs` quota."""
    require_role(team=team, user=actor, role=Role.TRIAGER)
    findings = list(
        Finding.objects.filter(team=team, pk__in=finding_ids).select_related(
            "repository", "connection"
        )
    )
    if not findings or len(findings) != len(set(finding_ids)):
        raise ServiceError("Choose findings of this team to fix.")
    repositories = {finding.repository_id for finding in findings}
    if len(repositories) != 1:
        raise ServiceError("A fix covers findings of one repository; choose findings of one.")
    repository: Repository = findings[0].repository
    known = {repo.get("full_name") for repo in repository.source_repos}
    if source_repo not in known:
        raise ServiceError("Choose one of the repository's source repos.", field="source_repo")
    provider = next(
        (r.get("provider") for r in repository.source_repos if r.get("full_name") == source_repo),
        "github",
    )
    connection = findings[0].connection
    if not connection.is_active:
        raise ServiceError("This repository's Kolega connection is not active.")
    with kolega_interactive(connection) as client:
        balance = client.quota_balance()
        if balance.prs.remaining <= 0:
            raise ServiceError(
                "The quota of fixes and pull requests is used up until "
                f"{balance.period_end:%Y-%m-%d}. Nothing was sent to Kolega."
            )
        created = client.create_fix(
            repository_id=repository.upstream_id,
            finding_ids=[finding.upstream_id for finding in findings],
            title=title,
            instructions=instructions,
            source_repo=source_repo,
            source_repo_provider=provider or "github",
            source_scan_branch=branch or None,
        )
    fix = fix_mirror(connection=connection, fix=created)
    with transaction.atomic():
        audit_log(
            team=team,
            actor=actor,
            action="fix.create",
            target=fix,
            details={
                "findings": [finding.upstream_id for finding in findings],
                "source_repo": source_repo,
                "branch": branch or "",
            },
        )
        _queue_tracking(fix.pk)
    return fix


def fix_cancel(*, fix: Fix, actor) -> Fix:
    require_role(team=fix.team, user=actor, role=Role.TRIAGER)
    if fix.status.lower() not in CANCELLABLE_STATUSES:
        raise ServiceError(
            f"Only a pending or running fix can be cancelled (it is {fix.status_label})."
        )
    with kolega_interactive(fix.connection) as client:
        answered = client.cancel_fix(
            repository_id=fix.repository.upstream_id, fix_id=fix.upstream_id
        )
    fix = fix_mirror(connection=fix.connection, fix=answered)
    with transaction.atomic():
        audit_log(team=fix.team, actor=actor, action="fix.cancel", target=fix)
    return fix


def diff_version_capture(*, fix: Fix) -> FixDiffVersion | None:
    """Keep the fix's current diff as a numbered version (once per distinct diff)."""
    if not fix.diff or not fix.diff_sha256:
        return None
    existing = FixDiffVersion.objects.filter(fix=fix, sha256=fix.diff_sha256).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            last = FixDiffVersion.objects.filter(fix=fix).aggregate(n=Max("number"))["n"] or 0
            return FixDiffVersion.objects.create(
                team_id=fix.team_id,
                fix=fix,
                number=last + 1,
                sha256=fix.diff_sha256,
                diff=fix.diff,
            )
    except IntegrityError:
        # Another request captured it (or took the number) at the same moment.
        return FixDiffVersion.objects.filter(fix=fix, sha256=fix.diff_sha256).first()


def fix_refine(*, fix: Fix, actor, instructions: str) -> Fix:
    """Send a completed fix back to running; an approval of the old diff no longer counts."""
    require_role(team=fix.team, user=actor, role=Role.TRIAGER)
    instructions = instructions.strip()
    if not instructions:
        raise ServiceError("Say what should change.", field="instructions")
    if fix.status.lower() not in REFINABLE_STATUSES:
        raise ServiceError(f"Only a completed fix can be refined (it is {fix.status_label}).")
    with kolega_interactive(fix.connection) as client:
        answered = client.refine_fix(
            repository_id=fix.repository.upstream_id,
            fix_id=fix.upstream_id,
            instructions=instructions,
        )
    # Kept once Kolega has accepted the refinement, before the mirror takes the new run.
    diff_version_capture(fix=fix)
    previous_sha = fix.diff_sha256
    fix = fix_mirror(connection=fix.connection, fix=answered)
    with transaction.atomic():
        voided = FixApproval.objects.filter(fix=fix, status__in=FixApproval.OPEN_STATUSES).update(
            status=FixApproval.Status.VOIDED
        )
        audit_log(
            team=fix.team,
            actor=actor,
            action="fix.refine",
            target=fix,
            details={
                "instructions": instructions,
                "previous_diff_sha256": previous_sha,
                "approvals_voided": voided,
            },
        )
        _queue_tracking(fix.pk)
    return fix


def review_comment_add(
    *,
    fix: Fix,
    actor,
    diff_sha256: str,
    file_path: str,
    side: str,
    line: int,
    body: str,
    parent_id: int | None = None,
) -> ReviewComment:
    require_role(team=fix.team, user=actor, role=Role.TRIAGER)
    body = body.strip()
    if not body:
        raise ServiceError("A comment needs some text.", field="body")
    if side not in ("old", "new") or line < 1:
        raise ServiceError("A comment belongs to a line of the diff.")
    if not FixDiffVersion.objects.filter(fix=fix, sha256=diff_sha256).exists() and (
        diff_sha256 != fix.diff_sha256
    ):
        raise ServiceError("This version of the diff is not known.")
    parent = None
    if parent_id is not None:
        parent = ReviewComment.objects.filter(fix=fix, pk=parent_id).first()
        if parent is None:
            raise ServiceError("The comment replied to is gone.")
        # Replies stay in the thread of the first comment, anchored where it is.
        parent = parent.parent or parent
        diff_sha256, file_path, side, line = (
            parent.diff_sha256,
            parent.file_path,
            parent.side,
            parent.line,
        )
    with transaction.atomic():
        comment = ReviewComment.objects.create(
            team_id=fix.team_id,
            fix=fix,
            diff_sha256=diff_sha256,
            file_path=file_path,
            side=side,
            line=line,
            parent=parent,
            author=actor,
            body=body,
        )
        audit_log(
            team=fix.team,
            actor=actor,
            action="fix.comment",
            target=fix,
            details={"file": file_path, "line": line, "side": side, "reply": parent is not None},
        )
    return comment


def reviewed_file_set(*, fix: Fix, actor, diff_sha256: str, file_path: str, viewed: bool) -> bool:
    """Mark (or unmark) a file of a diff version as viewed by ``actor``; a personal mark."""
    require_role(team=fix.team, user=actor, role=Role.VIEWER)
    if viewed:
        ReviewedFile.objects.get_or_create(
            fix=fix, user=actor, diff_sha256=diff_sha256, file_path=file_path
        )
    else:
        ReviewedFile.objects.filter(
            fix=fix, user=actor, diff_sha256=diff_sha256, file_path=file_path
        ).delete()
    return viewed
