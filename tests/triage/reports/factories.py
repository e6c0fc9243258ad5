"""Mirror rows for report tests, with explicit times so a test can hand-compute its figures."""

from datetime import UTC, datetime

import factory

from tests.factories import KolegaConnectionFactory, TeamFactory
from triage.models import Finding, FindingEvent, Fix, PullRequest, Repository, ScanBatch

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class RepositoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Repository

    team = factory.SubFactory(TeamFactory)
    connection = factory.SubFactory(KolegaConnectionFactory, team=factory.SelfAttribute("..team"))
    upstream_id = factory.Sequence(lambda n: f"repo-{n}")
    name = factory.Sequence(lambda n: f"service-{n}")
    synced_at = T0
    created_at = T0
    updated_at = T0


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
    message = "User input reaches a SQL query."
    title = "SQL injection"
    category = "injection"
    scan_type = "semgrep_scan"
    cwe = factory.LazyFunction(lambda: ["CWE-89"])
    first_detected_at = T0
    last_detected_at = factory.SelfAttribute("first_detected_at")
    created_at = factory.SelfAttribute("first_detected_at")
    updated_at = factory.SelfAttribute("first_detected_at")
    synced_at = T0
    search_text = factory.LazyAttribute(
        lambda f: Finding.search_text_of(
            title=f.title, message=f.message, check_id=f.check_id, file_path=f.file_path
        )
    )


class FindingEventFactory(factory.django.DjangoModelFactory):
    """An event of `finding`; pass `finding=` and the event's fields."""

    class Meta:
        model = FindingEvent
        exclude = ["finding"]

    finding = factory.SubFactory(FindingFactory)
    team = factory.SelfAttribute("finding.team")
    connection = factory.SelfAttribute("finding.connection")
    upstream_id = factory.Sequence(lambda n: f"event-{n}")
    organization_id = "org"
    repository_upstream_id = factory.SelfAttribute("finding.repository.upstream_id")
    finding_upstream_id = factory.SelfAttribute("finding.upstream_id")
    severity = factory.SelfAttribute("finding.severity")
    event_type = "detected"
    new_status = "open"
    event_timestamp = T0
    created_at = factory.SelfAttribute("event_timestamp")
    synced_at = T0


class ScanBatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScanBatch

    repository = factory.SubFactory(RepositoryFactory)
    team = factory.SelfAttribute("repository.team")
    connection = factory.SelfAttribute("repository.connection")
    upstream_id = factory.Sequence(lambda n: f"batch-{n}")
    scan_type = "semgrep_scan"
    status = "completed"
    created_at = T0
    completed_at = factory.SelfAttribute("created_at")
    synced_at = T0


class FixFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Fix

    repository = factory.SubFactory(RepositoryFactory)
    team = factory.SelfAttribute("repository.team")
    connection = factory.SelfAttribute("repository.connection")
    upstream_id = factory.Sequence(lambda n: f"fix-{n}")
    title = "Parameterize the query"
    status = "completed"
    created_at = T0
    synced_at = T0


class PullRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PullRequest

    fix = factory.SubFactory(FixFactory)
    team = factory.SelfAttribute("fix.team")
    connection = factory.SelfAttribute("fix.connection")
    pr_number = factory.Sequence(lambda n: n + 1)
    upstream_id = factory.LazyAttribute(lambda pr: f"acme/app#{pr.pr_number}")
    repo_full_name = "acme/app"
    branch_name = "kolega/fix"
    pr_url = factory.LazyAttribute(lambda pr: f"https://example.com/acme/app/pull/{pr.pr_number}")
    merge_status = "open"
    created_at = T0
    synced_at = T0
