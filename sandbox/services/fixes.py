"""AI fixes: creating, refining, cancelling; their pull requests, merging and closing them."""

import re
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.db.models import Max

from sandbox import clock, lifecycle
from sandbox.errors import ApiError, conflict, not_found
from sandbox.materialize import fix_events_create, fix_materialize, scanner
from sandbox.models import (
    Finding,
    FindingEvent,
    FindingStatus,
    Fix,
    Organization,
    PullRequest,
    Repository,
    SourceRepo,
)
from sandbox.services.events import finding_event_build
from sandbox.services.lookups import fix_get, parse_uuid, repository_get
from sandbox.services.quotas import quota_ensure_available
from sandbox.services.trees import source_tree, source_tree_write

CANCELLABLE = ("pending", "running")
DIFF_FILE_HEADER = re.compile(r"^diff --git a/(\S+) b/(\S+)$", re.MULTILINE)


def fix_create(
    *,
    organization: Organization,
    repository_id: str,
    finding_ids: list[str],
    title: str,
    instructions: str,
    source_repo: str,
    source_repo_provider: str = "github",
    source_scan_branch: str | None = None,
) -> Fix:
    """Start an AI fix for findings of one source repo; draws on the ``prs`` quota."""
    repository = repository_get(organization=organization, repository_id=repository_id)
    target = SourceRepo.objects.filter(repository=repository, full_name__iexact=source_repo).first()
    if target is None:
        raise not_found(f"Source repository {source_repo!r}")
    wanted = list(dict.fromkeys(finding_ids))
    parsed = [parse_uuid(value) for value in wanted]
    findings = list(Finding.objects.filter(repository=repository, id__in=[p for p in parsed if p]))
    if len(findings) != len(wanted):
        raise not_found("Finding")
    if any(finding.source_repo_id != target.pk for finding in findings):
        raise ApiError(
            status=400,
            message="Every finding of a fix must come from the fix's source repository",
            error_code="MULTIPLE_REPOSITORIES",
        )
    now = clock.now()
    with transaction.atomic():
        Organization.objects.select_for_update().get(pk=organization.pk)
        quota_ensure_available(organization=organization, counter="prs")
        fix = Fix.objects.create(
            organization=organization,
            repository=repository,
            source_repo=target,
            finding_ids=[str(finding.id) for finding in findings],
            title=title,
            instructions=instructions,
            source_repo_name=target.full_name,
            source_repo_provider=source_repo_provider,
            source_scan_branch=source_scan_branch,
            source_base_commit_sha=target.head_commit_sha,
            created_at=now,
            run_requested_at=now,
            time_scale=lifecycle.time_scale(),
        )
        fix_events_create(fix=fix, event_type="fix_created", at=now)
    return fix


def fix_refine(*, repository: Repository, fix_id: str, instructions: str) -> Fix:
    """Re-run a completed fix with follow-up instructions; it is running again at once."""
    fix = fix_materialize(fix_id=fix_get(repository=repository, fix_id=fix_id).pk)
    with transaction.atomic():
        fix = Fix.objects.select_for_update().get(pk=fix.pk)
        if fix.final_status != "completed":
            raise conflict(f"Only a completed fix can be refined (status: {_status(fix)})")
        fix.run_number += 1
        fix.run_requested_at = clock.now()
        fix.refine_instructions = instructions
        fix.final_status = ""
        fix.completed_at = None
        fix.diff = None
        fix.error_message = None
        fix.save()
    return fix_materialize(fix_id=fix.pk)


def _status(fix: Fix) -> str:
    return lifecycle.fix_state(fix).status


def fix_cancel(*, repository: Repository, fix_id: str) -> Fix:
    fix = fix_materialize(fix_id=fix_get(repository=repository, fix_id=fix_id).pk)
    with transaction.atomic():
        fix = Fix.objects.select_for_update().get(pk=fix.pk)
        state = lifecycle.fix_state(fix)
        if fix.final_status or state.status not in CANCELLABLE:
            raise conflict(
                f"Only a pending or running fix can be cancelled (status: {state.status})"
            )
        now = clock.now()
        fix.final_status = "cancelled"
        fix.completed_at = now
        fix.started_at = state.started_at
        fix.error_message = "Cancelled through the public API"
        fix.save()
        fix_events_create(fix=fix, event_type="fix_cancelled", at=now)
    return fix


def _default_branch_name(fix: Fix) -> str:
    return f"kolega/fix-{fix.id.hex[:8]}-{fix.run_number + 1}"


def pull_requests_create(
    *,
    repository: Repository,
    fix_id: str,
    title: str | None = None,
    body: str | None = None,
    branch_name: str | None = None,
) -> tuple[Fix, list[PullRequest]]:
    """Open one pull request per source repo the diff touches. Every call opens a new set."""
    fix = fix_materialize(fix_id=fix_get(repository=repository, fix_id=fix_id).pk)
    if fix.final_status != "completed" or not fix.diff or fix.source_repo_id is None:
        raise conflict(f"Pull requests need a completed fix (status: {_status(fix)})")
    now = clock.now()
    with transaction.atomic():
        source = SourceRepo.objects.select_for_update().get(pk=fix.source_repo_id)
        last = PullRequest.objects.filter(source_repo=source).aggregate(n=Max("pr_number"))["n"]
        pull_request = PullRequest.objects.create(
            fix=fix,
            source_repo=source,
            repo_full_name=source.full_name,
            branch_name=branch_name or _default_branch_name(fix),
            title=title or f"fix: {fix.title}",
            body=body or f"Automated fix generated by Kolega.\n\n{fix.instructions}",
            pr_number=(last or 0) + 1,
            diff=fix.diff,
            created_at=now,
        )
        fix_events_create(
            fix=fix,
            event_type="fix_pr_created",
            at=now,
            pr_url=pull_request.pr_url,
            pr_number=pull_request.pr_number,
        )
    return fix, [pull_request]


def _apply_diff(files: dict[str, str], diff: str) -> dict[str, str]:
    return scanner().apply_diff(files, diff)


def _pull_request_locked(pull_request: PullRequest) -> PullRequest:
    return (
        PullRequest.objects.select_for_update()
        .select_related("fix", "source_repo")
        .get(pk=pull_request.pk)
    )


def _pull_request_updated_events(*, pull_request: PullRequest, at: datetime) -> None:
    """``fix_pr_updated`` on the fix's findings: the pull request's merge status changed."""
    fix_events_create(
        fix=pull_request.fix,
        event_type="fix_pr_updated",
        at=at,
        pr_url=pull_request.pr_url,
        pr_number=pull_request.pr_number,
        merge_status=pull_request.merge_status,
    )


def _resolve(
    *, findings: Iterable[Finding], pull_request: PullRequest, event_type: str, at: datetime
) -> list[FindingEvent]:
    events = []
    for finding in findings:
        previous = finding.status
        finding.status = FindingStatus.RESOLVED
        finding.resolved_at = at
        finding.updated_at = at
        finding.save(update_fields=["status", "resolved_at", "updated_at"])
        events.append(
            finding_event_build(
                finding=finding,
                event_type=event_type,
                at=at,
                previous_status=previous,
                new_status=FindingStatus.RESOLVED,
                metadata={
                    "fix_id": str(pull_request.fix_id),
                    "pr_url": pull_request.pr_url,
                    "pr_number": pull_request.pr_number,
                },
            )
        )
    return events


def _findings_the_merge_also_fixed(
    *, pull_request: PullRequest, files: dict[str, str]
) -> list[Finding]:
    """Open findings of the source repo outside the fix that the merged tree no longer has.

    Kolega links them to the merged pull request (``resolved_pr_linked``): for instance a
    SAST finding on the line a secrets fix rewrote.
    """
    candidates = list(
        Finding.objects.select_for_update()
        .filter(
            source_repo=pull_request.source_repo,
            status__in=(FindingStatus.OPEN, FindingStatus.NEEDS_MANUAL_REVIEW),
            file_path__in=diff_paths(pull_request.diff),
        )
        .exclude(id__in=pull_request.fix.finding_ids)
    )
    still_found: set[str] = set()
    for scan_type in sorted({finding.scan_type for finding in candidates}):
        still_found |= {d.fingerprint for d in scanner().scan_tree(files, scan_type)}
    return [finding for finding in candidates if finding.fingerprint not in still_found]


@transaction.atomic
def pull_request_merge(*, pull_request: PullRequest) -> PullRequest:
    """Merge: apply the diff to the source tree and resolve the findings it fixed.

    The fix's findings get ``fix_pr_updated`` then ``resolved_pr_merged``; open findings
    outside the fix that the merge made disappear get ``resolved_pr_linked``.
    """
    pull_request = _pull_request_locked(pull_request)
    if pull_request.merge_status == "merged":
        return pull_request
    if pull_request.merge_status != "open":
        raise conflict(f"Pull request is {pull_request.merge_status}")
    source = pull_request.source_repo
    files = _apply_diff(source_tree(source_repo=source), pull_request.diff)
    source_tree_write(source_repo=source, files=files)
    now = clock.now()
    pull_request.merge_status = "merged"
    pull_request.merged_at = now
    pull_request.save(update_fields=["merge_status", "merged_at"])
    _pull_request_updated_events(pull_request=pull_request, at=now)
    fixed = Finding.objects.select_for_update().filter(
        id__in=pull_request.fix.finding_ids,
        status__in=(FindingStatus.OPEN, FindingStatus.NEEDS_MANUAL_REVIEW),
    )
    events = _resolve(
        findings=fixed, pull_request=pull_request, event_type="resolved_pr_merged", at=now
    )
    events += _resolve(
        findings=_findings_the_merge_also_fixed(pull_request=pull_request, files=files),
        pull_request=pull_request,
        event_type="resolved_pr_linked",
        at=now,
    )
    FindingEvent.objects.bulk_create(events)
    return pull_request


@transaction.atomic
def pull_request_close(*, pull_request: PullRequest) -> PullRequest:
    """Close without merging: the source tree and the findings stay as they are."""
    pull_request = _pull_request_locked(pull_request)
    if pull_request.merge_status == "closed":
        return pull_request
    if pull_request.merge_status != "open":
        raise conflict(f"Pull request is {pull_request.merge_status}")
    pull_request.merge_status = "closed"
    pull_request.save(update_fields=["merge_status"])
    _pull_request_updated_events(pull_request=pull_request, at=clock.now())
    return pull_request


def pull_request_find(
    *, repo_full_name: str, pr_number: int, organization: Organization | None = None
) -> PullRequest:
    """The newest pull request with that number in that source repo (of ``organization``)."""
    candidates = PullRequest.objects.filter(
        repo_full_name__iexact=repo_full_name, pr_number=pr_number
    )
    if organization is not None:
        candidates = candidates.filter(fix__organization=organization)
    pull_request = candidates.order_by("-created_at").first()
    if pull_request is None:
        raise not_found("Pull request")
    return pull_request


def diff_paths(diff: str) -> list[str]:
    """The files a diff changes (their new paths)."""
    return [match.group(2) for match in DIFF_FILE_HEADER.finditer(diff)]
