"""Demo data: an organization with real source trees and a scan history to look at."""

from datetime import timedelta

from django.db import transaction

from sandbox import clock
from sandbox.materialize import batch_materialize, fix_materialize
from sandbox.models import ApiKey, Finding, FindingStatus, Organization, ScanBatch, ScanRun
from sandbox.services.findings import finding_status_set
from sandbox.services.fixes import (
    fix_create,
    pull_request_close,
    pull_request_merge,
    pull_requests_create,
)
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


# What happens to the demo's pull requests, in order: one merged, one closed, the rest open.
DEMO_PULL_REQUEST_OUTCOMES = ("merged", "closed", "open")
# Findings tried per repository before giving up on a fix for it.
FIX_ATTEMPTS = 3


def _fixes_with_pull_requests(organization: Organization) -> None:
    """A fix with a pull request in a few repositories, as if started a day ago and approved."""
    started = clock.now() - timedelta(days=1)
    outcomes = iter(DEMO_PULL_REQUEST_OUTCOMES)
    for repository in organization.repositories.order_by("name"):
        findings = Finding.objects.filter(
            repository=repository, status=FindingStatus.OPEN
        ).select_related("source_repo")
        for finding in findings.order_by("severity", "file_path")[:FIX_ATTEMPTS]:
            fix = fix_create(
                organization=organization,
                repository_id=str(repository.id),
                finding_ids=[str(finding.id)],
                title=f"Fix {finding.title or finding.check_id}"[:200],
                instructions="Make the smallest change that removes the finding.",
                source_repo=finding.source_repo.full_name,
            )
            fix.created_at = fix.run_requested_at = started
            fix.save(update_fields=["created_at", "run_requested_at"])
            fix = fix_materialize(fix_id=fix.pk)
            if fix.final_status != "completed":
                continue
            _, (pull_request,) = pull_requests_create(repository=repository, fix_id=str(fix.id))
            outcome = next(outcomes, "open")
            if outcome == "merged":
                pull_request_merge(pull_request=pull_request)
            elif outcome == "closed":
                pull_request_close(pull_request=pull_request)
            break


@transaction.atomic
def demo_organization_seed(
    *,
    name: str = "Acme Corp",
    slug: str = "acme",
    plaintext_key: str | None = None,
    reset: bool = False,
    pull_requests: bool = False,
) -> tuple[Organization, str | None, bool]:
    """Create the demo organization (or find it); answer it, a usable key and whether new.

    The key is only known when created here or given as ``plaintext_key``. With
    ``pull_requests``, a few repositories also get a fix whose pull request is open, merged
    or closed (this spends some of the organization's fix quota).
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
    if pull_requests:
        _fixes_with_pull_requests(organization)
    return organization, key, True
