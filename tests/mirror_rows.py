"""Rows of a synced mirror (or of the sandbox behind it) picked for a test to act on."""

from django.db.models import Count

from triage.kolega import KolegaClient, iter_all
from triage.models import Finding
from triage.sync import scan_batch_mirror, sync_connection_full


def two_open_findings_of_one_file(team) -> list[Finding]:
    """Two open code findings of one file of one repository: what one fix can take."""
    group = (
        Finding.objects.filter(team=team, status="open", scan_type="semgrep_scan")
        .values("repository_id", "file_path")
        .annotate(n=Count("id"))
        .filter(n__gte=2)
        .order_by("repository_id", "file_path")
        .first()
    )
    return list(
        Finding.objects.filter(
            repository_id=group["repository_id"], status="open", file_path=group["file_path"]
        ).order_by("pk")[:2]
    )


def fix_created_upstream(upstream: KolegaClient, repository, finding_ids: list[str]):
    """Start a fix of ``finding_ids`` of ``repository`` (Kolega's) straight on Kolega."""
    return upstream.create_fix(
        repository_id=repository.id,
        finding_ids=finding_ids,
        title="Fix it",
        instructions="Please fix",
        source_repo=repository.repositories[0].full_name,
    )


def fix_started_upstream(upstream: KolegaClient, **finding_filters):
    """Start a fix of the first repository's first finding straight on Kolega; the fix and
    its repository."""
    repository = next(iter_all(upstream.list_repositories))
    finding = next(iter_all(upstream.list_findings, repository_id=repository.id, **finding_filters))
    return fix_created_upstream(upstream, repository, [finding.id]), repository


def scan_started(connection, upstream: KolegaClient):
    """Sync, then start a scan of the first repository as the portal does: mirror Kolega's
    answer, to track it. The repository, Kolega's answer and the mirrored batch."""
    sync_connection_full(connection=connection)
    repository = next(iter_all(upstream.list_repositories))
    started = upstream.create_scan(repository_id=repository.id, scan_type="semgrep_scan")
    return repository, started, scan_batch_mirror(connection=connection, batch=started)
