"""Mirror rows made directly, for pages whose behaviour does not depend on how sync wrote them."""

from datetime import timedelta

import factory
from django.utils import timezone

from tests.factories import KolegaConnectionFactory, TeamFactory
from triage.models import Finding, Fix, PullRequest, Repository, ScanBatch, ScanBatchFinding


class RepositoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Repository

    team = factory.SubFactory(TeamFactory)
    connection = factory.SubFactory(KolegaConnectionFactory, team=factory.SelfAttribute("..team"))
    upstream_id = factory.Sequence(lambda n: f"repo-{n}")
    name = factory.Sequence(lambda n: f"service-{n}")
    source_repos = factory.LazyAttribute(
        lambda r: [
            {
                "full_name": f"acme/{r.name}",
                "default_branch": "main",
                "html_url": f"https://github.com/acme/{r.name}",
                "provider": "github",
            }
        ]
    )
    synced_at = factory.LazyFunction(timezone.now)
    created_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyFunction(timezone.now)


class ScanBatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScanBatch

    repository = factory.SubFactory(RepositoryFactory)
    team = factory.SelfAttribute("repository.team")
    connection = factory.SelfAttribute("repository.connection")
    upstream_id = factory.Sequence(lambda n: f"batch-{n}")
    scan_type = "semgrep_scan"
    status = "completed"
    total_repositories = 1
    scans_created = 1
    scans_completed = 1
    percent_complete = 100.0
    created_at = factory.LazyFunction(timezone.now)
    synced_at = factory.LazyFunction(timezone.now)


class FindingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Finding

    repository = factory.SubFactory(RepositoryFactory)
    team = factory.SelfAttribute("repository.team")
    connection = factory.SelfAttribute("repository.connection")
    upstream_id = factory.Sequence(lambda n: f"finding-{n}")
    check_id = "python.lang.security.sql-injection"
    severity = "high"
    status = "open"
    file_path = factory.Sequence(lambda n: f"app/module_{n}.py")
    message = "Untrusted input reaches a SQL query."
    category = "injection"
    scan_type = "semgrep_scan"
    first_detected_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=3))
    last_detected_at = factory.LazyFunction(timezone.now)
    created_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyFunction(timezone.now)
    synced_at = factory.LazyFunction(timezone.now)


def link(batch: ScanBatch, *findings: Finding) -> None:
    ScanBatchFinding.objects.bulk_create(
        ScanBatchFinding(scan_batch=batch, finding=finding) for finding in findings
    )


class FixFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Fix

    repository = factory.SubFactory(RepositoryFactory)
    team = factory.SelfAttribute("repository.team")
    connection = factory.SelfAttribute("repository.connection")
    upstream_id = factory.Sequence(lambda n: f"fix-{n}")
    title = "Parameterize the refunds query"
    status = "completed"
    created_at = factory.LazyFunction(timezone.now)
    synced_at = factory.LazyFunction(timezone.now)


class PullRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PullRequest

    fix = factory.SubFactory(FixFactory)
    team = factory.SelfAttribute("fix.team")
    connection = factory.SelfAttribute("fix.connection")
    repo_full_name = "acme/payments-api"
    pr_number = factory.Sequence(lambda n: 100 + n)
    upstream_id = factory.LazyAttribute(lambda p: f"{p.repo_full_name}#{p.pr_number}")
    branch_name = "kolega/fix-refunds"
    pr_url = factory.LazyAttribute(
        lambda p: f"https://github.com/{p.repo_full_name}/pull/{p.pr_number}"
    )
    merge_status = "open"
    created_at = factory.LazyFunction(timezone.now)
    synced_at = factory.LazyFunction(timezone.now)
