"""Demo data: an organization with real source trees and a scan history to look at."""

from datetime import timedelta

from django.db import transaction

from sandbox import clock
from sandbox.materialize import batch_materialize
from sandbox.models import ApiKey, Finding, FindingStatus, Organization, ScanBatch, ScanRun
from sandbox.services.findings import finding_status_set
from sandbox.services.organizations import api_key_create, hash_key, organization_create
from sandbox.services.repositories import repository_create

DEMO_REPOSITORIES = {
    "acme/payments-api": ("payments-api", "Python web API taking card payments and refunds"),
    "acme/web-frontend": ("web-frontend", "Customer-facing JavaScript single-page app"),
    "acme/inventory-service": ("inventory-service", "Go service tracking warehouse stock"),
    "acme/infra": ("infra", "Terraform, Dockerfiles and deployment scripts"),
}
# Days ago of each historical batch: an old full sweep, then a recent one.
HISTORY = (
    (9, ("secrets_scan", "semgrep_scan", "sbom_scan")),
    (2, ("secrets_scan", "semgrep_scan", "sbom_scan", "deep_ai_scan")),
)


def _key_ensure(organization: Organization, plaintext: str | None) -> str | None:
    if plaintext is None:
        return None
    if not ApiKey.objects.filter(key_hash=hash_key(plaintext)).exists():
        api_key_create(organization=organization, name="Demo key", plaintext_key=plaintext)
    return plaintext


def _history(organization: Organization) -> None:
    now = clock.now()
    for days_ago, scan_types in HISTORY:
        for repository in organization.repositories.prefetch_related("source_repos"):
            for offset, scan_type in enumerate(scan_types):
                created = now - timedelta(days=days_ago, minutes=30 - 5 * offset)
                batch = ScanBatch.objects.create(
                    organization=organization,
                    repository=repository,
                    scan_type=scan_type,
                    created_at=created,
                    time_scale=1.0,
                )
                ScanRun.objects.bulk_create(
                    ScanRun(batch=batch, source_repo=source, position=i)
                    for i, source in enumerate(repository.source_repos.all())
                )
                batch_materialize(batch_id=batch.pk)


def _triage_a_few(organization: Organization) -> None:
    """Give the demo some human decisions, as a real team would have made."""
    verdicts = (
        FindingStatus.FALSE_POSITIVE,
        FindingStatus.IGNORED,
        FindingStatus.NEEDS_MANUAL_REVIEW,
    )
    findings = Finding.objects.filter(organization=organization, status=FindingStatus.OPEN)
    for finding, verdict in zip(
        findings.order_by("severity", "file_path")[:3], verdicts, strict=False
    ):
        finding_status_set(
            repository=finding.repository, finding_id=str(finding.id), status=verdict
        )


@transaction.atomic
def demo_organization_seed(
    *,
    name: str = "Acme Corp",
    slug: str = "acme",
    plaintext_key: str | None = None,
    reset: bool = False,
) -> tuple[Organization, str | None, bool]:
    """Create the demo organization (or find it); answer it, a usable key and whether new.

    The key is only known when created here or given as ``plaintext_key``.
    """
    from sandbox import demo_trees

    existing = Organization.objects.filter(slug=slug).first()
    if existing is not None and reset:
        existing.delete()
        existing = None
    if existing is not None:
        return existing, _key_ensure(existing, plaintext_key), False

    organization, key = organization_create(
        name=name, slug=slug, key_name="Demo key", plaintext_key=plaintext_key
    )
    organization.created_at = clock.now() - timedelta(days=30)
    organization.save(update_fields=["created_at"])
    for full_name in demo_trees.TREES:
        repo_name, description = DEMO_REPOSITORIES.get(
            full_name, (full_name.split("/", 1)[-1], None)
        )
        repository_create(
            organization=organization,
            name=repo_name,
            description=description,
            source_trees={full_name: demo_trees.load_tree(full_name)},
        )
    _history(organization)
    _triage_a_few(organization)
    return organization, key, True
