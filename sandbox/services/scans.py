"""Scan batches: starting one, listing them."""

from django.db import transaction

from sandbox import clock, lifecycle
from sandbox.errors import ApiError
from sandbox.models import Organization, Repository, ScanBatch, ScanRun
from sandbox.services.lookups import repository_get
from sandbox.services.quotas import COUNTER_BY_SCAN_TYPE, quota_ensure_available


def scan_batch_create(
    *, organization: Organization, repository_id: str, scan_type: str
) -> ScanBatch:
    """Queue a batch scanning every source repo of the repository; draws on its quota."""
    repository = repository_get(organization=organization, repository_id=repository_id)
    source_repos = list(repository.source_repos.all())
    if not source_repos:
        raise ApiError(
            status=400,
            message="This repository has no source repositories to scan",
            error_code="NO_REPOSITORIES",
        )
    with transaction.atomic():
        # The organization row serializes quota draws: two requests cannot share the last unit.
        Organization.objects.select_for_update().get(pk=organization.pk)
        quota_ensure_available(organization=organization, counter=COUNTER_BY_SCAN_TYPE[scan_type])
        batch = ScanBatch.objects.create(
            organization=organization,
            repository=repository,
            scan_type=scan_type,
            created_at=clock.now(),
            time_scale=lifecycle.time_scale(),
        )
        ScanRun.objects.bulk_create(
            [
                ScanRun(batch=batch, source_repo=source, position=i, will_fail=source.fails_scans)
                for i, source in enumerate(source_repos)
            ]
        )
    return batch


def scan_batches_list(
    *,
    repository: Repository,
    scan_type: str | None,
    status: str | None,
    limit: int,
    skip: int,
) -> tuple[list[tuple[ScanBatch, lifecycle.BatchState]], int]:
    """Newest first. The status is derived from time, so that filter runs in Python."""
    batches = ScanBatch.objects.filter(repository=repository).prefetch_related("runs")
    if scan_type:
        batches = batches.filter(scan_type=scan_type)
    if status is None:
        total = batches.count()
        if skip >= total:
            return [], total
        page = [
            (b, lifecycle.batch_state(b, list(b.runs.all()))) for b in batches[skip : skip + limit]
        ]
        return page, total
    matching = [
        (batch, state)
        for batch in batches
        if (state := lifecycle.batch_state(batch, list(batch.runs.all()))).status == status
    ]
    return matching[skip : skip + limit], len(matching)
