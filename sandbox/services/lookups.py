"""Fetching one organization's rows by public id; anything else is a 404."""

import uuid
from typing import TypeVar

from django.db.models import Model, QuerySet

from sandbox.errors import not_found
from sandbox.models import Finding, Fix, Organization, Repository, ScanBatch

M = TypeVar("M", bound=Model)


def parse_uuid(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _get(queryset: QuerySet[M], value: str, what: str) -> M:
    parsed = parse_uuid(value)
    found = queryset.filter(pk=parsed).first() if parsed else None
    if found is None:
        raise not_found(what)
    return found


def repository_get(*, organization: Organization, repository_id: str) -> Repository:
    return _get(Repository.objects.filter(organization=organization), repository_id, "Repository")


def scan_batch_get(*, repository: Repository, scan_id: str) -> ScanBatch:
    return _get(ScanBatch.objects.filter(repository=repository), scan_id, "Scan")


def finding_get(*, repository: Repository, finding_id: str) -> Finding:
    return _get(
        Finding.objects.filter(repository=repository).select_related("source_repo"),
        finding_id,
        "Finding",
    )


def fix_get(*, repository: Repository, fix_id: str) -> Fix:
    return _get(Fix.objects.filter(repository=repository), fix_id, "Fix")
