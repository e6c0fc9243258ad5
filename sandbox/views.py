"""The emulated operations: parse the request, call one service, render the contract body.

Reads first bring the organization's time-derived state up to date
(``organization_catch_up``) so every view sees the same moment.
"""

from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest

from sandbox import lifecycle, serializers
from sandbox.api import Caller
from sandbox.materialize import fix_materialize, organization_catch_up
from sandbox.models import Finding, Fix, Repository
from sandbox.services import findings as finding_services
from sandbox.services import fixes as fix_services
from sandbox.services.lookups import (
    finding_get,
    fix_get,
    repository_get,
    scan_batch_get,
)
from sandbox.services.quotas import quota_balance
from sandbox.services.scans import scan_batch_create, scan_batches_list
from sandbox.validation import (
    CreatePullRequestsBody,
    FindingEventsQuery,
    FindingsQuery,
    FindingStatusUpdateBody,
    FixCreateBody,
    FixesQuery,
    FixRefineBody,
    RepositoriesQuery,
    ScanCreateBody,
    ScansQuery,
    parse_body,
    parse_query,
)

Result = tuple[int, Any]


def _page(rows, query, total: int):
    # An offset past the end is an empty page; the database never sees an absurd offset.
    if query.skip >= total:
        return rows[:0]
    return rows[query.skip : query.skip + query.limit]


def _repository(caller: Caller, repository_id: str) -> Repository:
    organization_catch_up(organization=caller.organization)
    return repository_get(organization=caller.organization, repository_id=repository_id)


def me(request: HttpRequest, caller: Caller) -> Result:
    return 200, serializers.me_body(caller)


def quotas_balance(request: HttpRequest, caller: Caller) -> Result:
    return 200, serializers.quota_balance_body(quota_balance(organization=caller.organization))


def repositories_list(request: HttpRequest, caller: Caller) -> Result:
    query = parse_query(request, RepositoriesQuery)
    repositories = Repository.objects.filter(organization=caller.organization)
    if not query.include_archived:
        repositories = repositories.filter(archived=False)
    total = repositories.count()
    page = _page(repositories.prefetch_related("source_repos"), query, total)
    items = [serializers.repository_body(repository) for repository in page]
    return 200, serializers.page_body(items, total=total, limit=query.limit, skip=query.skip)


def repository_detail(request: HttpRequest, caller: Caller, repository_id: str) -> Result:
    return 200, serializers.repository_body(_repository(caller, repository_id))


def scans_create(request: HttpRequest, caller: Caller, repository_id: str) -> Result:
    body = parse_body(request, ScanCreateBody)
    batch = scan_batch_create(
        organization=caller.organization,
        repository_id=repository_id,
        scan_type=body.scan_type.value,
    )
    runs = list(batch.runs.select_related("source_repo"))
    return 202, serializers.scan_batch_body(batch, lifecycle.batch_state(batch, runs))


def scans_list(request: HttpRequest, caller: Caller, repository_id: str) -> Result:
    query = parse_query(request, ScansQuery)
    repository = _repository(caller, repository_id)
    page, total = scan_batches_list(
        repository=repository,
        scan_type=query.scan_type.value if query.scan_type else None,
        status=query.status,
        limit=query.limit,
        skip=query.skip,
    )
    items = [serializers.scan_batch_body(batch, state) for batch, state in page]
    return 200, serializers.page_body(items, total=total, limit=query.limit, skip=query.skip)


def _batch_with_state(caller: Caller, repository_id: str, scan_id: str):
    repository = _repository(caller, repository_id)
    batch = scan_batch_get(repository=repository, scan_id=scan_id)
    runs = list(batch.runs.select_related("source_repo"))
    return batch, lifecycle.batch_state(batch, runs)


def scan_detail(request: HttpRequest, caller: Caller, repository_id: str, scan_id: str) -> Result:
    return 200, serializers.scan_batch_body(*_batch_with_state(caller, repository_id, scan_id))


def scan_progress(request: HttpRequest, caller: Caller, repository_id: str, scan_id: str) -> Result:
    return 200, serializers.scan_progress_body(*_batch_with_state(caller, repository_id, scan_id))


def scan_results(request: HttpRequest, caller: Caller, repository_id: str, scan_id: str) -> Result:
    batch, state = _batch_with_state(caller, repository_id, scan_id)
    findings = []
    if batch.materialized_at is not None:
        findings = list(
            Finding.objects.filter(batchfinding__batch=batch).order_by("file_path", "line", "id")
        )
    return 200, serializers.scan_results_body(batch, state, findings)


def findings_list(request: HttpRequest, caller: Caller, repository_id: str) -> Result:
    query = parse_query(request, FindingsQuery)
    repository = _repository(caller, repository_id)
    findings = finding_services.findings_filter(
        repository=repository,
        scan_batch_id=query.scan_batch_id,
        severity=query.severity,
        status=query.status,
        scan_type=query.scan_type,
    )
    total = findings.count()
    items = [serializers.finding_body(finding) for finding in _page(findings, query, total)]
    return 200, serializers.page_body(items, total=total, limit=query.limit, skip=query.skip)


def finding_detail(
    request: HttpRequest, caller: Caller, repository_id: str, finding_id: str
) -> Result:
    repository = _repository(caller, repository_id)
    return 200, serializers.finding_body(finding_get(repository=repository, finding_id=finding_id))


def finding_update(
    request: HttpRequest, caller: Caller, repository_id: str, finding_id: str
) -> Result:
    body = parse_body(request, FindingStatusUpdateBody)
    repository = _repository(caller, repository_id)
    finding = finding_services.finding_status_set(
        repository=repository, finding_id=finding_id, status=body.status.value
    )
    return 200, serializers.finding_body(finding)


def finding_events_list(request: HttpRequest, caller: Caller) -> Result:
    query = parse_query(request, FindingEventsQuery)
    organization_catch_up(organization=caller.organization)
    events = finding_services.finding_events_filter(
        organization_id=caller.organization.pk,
        repository_id=query.repository_id,
        finding_id=query.finding_id,
        scan_type=query.scan_type,
        severity=query.severity,
        event_type=query.event_type,
        start=_aware(query.start),
    )
    end = _aware(query.end)
    total = finding_services.finding_events_count(
        events,
        filters=(
            caller.organization.pk,
            query.repository_id,
            query.finding_id,
            query.scan_type,
            query.severity,
            query.event_type,
            _aware(query.start),
        ),
        end=end,
    )
    if end is not None:
        events = events.filter(event_timestamp__lte=end)
    items = [serializers.finding_event_body(event) for event in _page(events, query, total)]
    return 200, serializers.page_body(items, total=total, limit=query.limit, skip=query.skip)


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # An offset pushing a date past year 1 or 9999: the window is simply unbounded.
        return (
            datetime.min.replace(tzinfo=UTC) if value.year < 2 else datetime.max.replace(tzinfo=UTC)
        )


def _fix_result(fix: Fix, status: int = 200) -> Result:
    return status, serializers.fix_body(fix, lifecycle.fix_state(fix))


def fixes_create(request: HttpRequest, caller: Caller, repository_id: str) -> Result:
    body = parse_body(request, FixCreateBody)
    organization_catch_up(organization=caller.organization)
    fix = fix_services.fix_create(
        organization=caller.organization,
        repository_id=repository_id,
        finding_ids=body.finding_ids,
        title=body.title,
        instructions=body.instructions,
        source_repo=body.source_repo,
        source_repo_provider=body.source_repo_provider,
        source_scan_branch=body.source_scan_branch,
    )
    return _fix_result(fix, status=201)


def fixes_list(request: HttpRequest, caller: Caller, repository_id: str) -> Result:
    query = parse_query(request, FixesQuery)
    repository = _repository(caller, repository_id)
    fixes = Fix.objects.filter(repository=repository)
    if query.finding_id is not None:
        # A JSON list of ids: filtered in Python to stay portable across databases.
        matching = [fix for fix in fixes if query.finding_id in fix.finding_ids]
        total, page = len(matching), _page(matching, query, len(matching))
    else:
        total = fixes.count()
        page = list(_page(fixes, query, total))
    items = [serializers.fix_body(fix, lifecycle.fix_state(fix)) for fix in page]
    return 200, serializers.page_body(items, total=total, limit=query.limit, skip=query.skip)


def _fix(caller: Caller, repository_id: str, fix_id: str) -> Fix:
    repository = _repository(caller, repository_id)
    return fix_materialize(fix_id=fix_get(repository=repository, fix_id=fix_id).pk)


def fix_detail(request: HttpRequest, caller: Caller, repository_id: str, fix_id: str) -> Result:
    return _fix_result(_fix(caller, repository_id, fix_id))


def fix_diff(request: HttpRequest, caller: Caller, repository_id: str, fix_id: str) -> Result:
    fix = _fix(caller, repository_id, fix_id)
    return 200, serializers.fix_diff_body(fix, lifecycle.fix_state(fix))


def fix_progress(request: HttpRequest, caller: Caller, repository_id: str, fix_id: str) -> Result:
    fix = _fix(caller, repository_id, fix_id)
    return 200, serializers.fix_progress_body(fix, lifecycle.fix_state(fix))


def fix_refine(request: HttpRequest, caller: Caller, repository_id: str, fix_id: str) -> Result:
    body = parse_body(request, FixRefineBody)
    repository = _repository(caller, repository_id)
    fix = fix_services.fix_refine(
        repository=repository, fix_id=fix_id, instructions=body.instructions
    )
    return _fix_result(fix)


def fix_cancel(request: HttpRequest, caller: Caller, repository_id: str, fix_id: str) -> Result:
    repository = _repository(caller, repository_id)
    return _fix_result(fix_services.fix_cancel(repository=repository, fix_id=fix_id))


def pull_requests_create(
    request: HttpRequest, caller: Caller, repository_id: str, fix_id: str
) -> Result:
    body = parse_body(request, CreatePullRequestsBody)
    repository = _repository(caller, repository_id)
    fix, pull_requests = fix_services.pull_requests_create(
        repository=repository,
        fix_id=fix_id,
        title=body.title,
        body=body.body,
        branch_name=body.branch_name,
    )
    return 201, {
        "fix_id": str(fix.id),
        "pull_requests": [serializers.pull_request_body(pr) for pr in pull_requests],
    }
