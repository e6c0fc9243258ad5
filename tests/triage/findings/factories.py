from datetime import timedelta

import factory
from django.utils import timezone

from tests.factories import KolegaConnectionFactory, TeamFactory
from triage.models import Finding, FindingEvent, Repository, ScanBatch


class RepositoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Repository

    team = factory.SubFactory(TeamFactory)
    connection = factory.SubFactory(KolegaConnectionFactory, team=factory.SelfAttribute("..team"))
    upstream_id = factory.Sequence(lambda n: f"repo-{n}")
    synced_at = factory.LazyFunction(timezone.now)
    name = factory.Sequence(lambda n: f"service-{n:03d}")
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
    created_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyFunction(timezone.now)


class ScanBatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScanBatch

    repository = factory.SubFactory(RepositoryFactory)
    team = factory.SelfAttribute("repository.team")
    connection = factory.SelfAttribute("repository.connection")
    upstream_id = factory.Sequence(lambda n: f"batch-{n}")
    synced_at = factory.LazyFunction(timezone.now)
    scan_type = "semgrep_scan"
    status = "completed"
    created_at = factory.LazyFunction(timezone.now)


class FindingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Finding

    repository = factory.SubFactory(RepositoryFactory)
    team = factory.SelfAttribute("repository.team")
    connection = factory.SelfAttribute("repository.connection")
    upstream_id = factory.Sequence(lambda n: f"finding-{n}")
    synced_at = factory.LazyFunction(timezone.now)
    check_id = "python.lang.security.sql-injection"
    severity = "high"
    status = "open"
    file_path = factory.Sequence(lambda n: f"app/module_{n:04d}.py")
    title = "SQL query built with string formatting"
    message = "User input reaches a SQL query."
    category = "security"
    scan_type = "semgrep_scan"
    cwe = factory.LazyFunction(lambda: ["CWE-89"])
    owasp = factory.LazyFunction(lambda: ["A03:2021 - Injection"])
    first_detected_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=10))
    last_detected_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    created_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=10))
    updated_at = factory.LazyFunction(timezone.now)
    search_text = factory.LazyAttribute(
        lambda f: Finding.search_text_of(
            title=f.title, message=f.message, check_id=f.check_id, file_path=f.file_path
        )
    )


class FindingEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FindingEvent

    team = factory.SelfAttribute("connection.team")
    upstream_id = factory.Sequence(lambda n: f"event-{n}")
    synced_at = factory.LazyFunction(timezone.now)
    organization_id = "org"
    repository_upstream_id = "repo"
    event_type = "detected"
    event_timestamp = factory.LazyFunction(timezone.now)
    created_at = factory.LazyFunction(timezone.now)
