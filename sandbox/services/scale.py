"""Large organizations for benchmarks: many findings and events, bulk-inserted."""

import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction

from sandbox import clock
from sandbox.models import (
    BatchFinding,
    Finding,
    FindingEvent,
    FindingStatus,
    Organization,
    Repository,
    ScanBatch,
    ScanRun,
    ScanType,
    SourceFile,
    SourceRepo,
)
from sandbox.services.bulk import bulk_insert
from sandbox.services.organizations import organization_create

BATCH_SIZE = 5000
# (check_id, title, severity, category, cwe, owasp, file pattern, scan type)
CHECKS = (
    (
        "python.sqli.string-format",
        "SQL injection",
        "high",
        "injection",
        "CWE-89",
        "A03:2021",
        "app/db/queries_{n}.py",
        ScanType.SEMGREP,
    ),
    (
        "js.xss.inner-html",
        "Cross-site scripting",
        "medium",
        "xss",
        "CWE-79",
        "A03:2021",
        "src/components/View{n}.jsx",
        ScanType.SEMGREP,
    ),
    (
        "secrets.aws-access-key",
        "AWS access key",
        "critical",
        "secrets",
        "CWE-798",
        "A07:2021",
        "config/settings_{n}.py",
        ScanType.SECRETS,
    ),
    (
        "secrets.generic-api-token",
        "Generic API token",
        "high",
        "secrets",
        "CWE-798",
        "A07:2021",
        "deploy/env_{n}.sh",
        ScanType.SECRETS,
    ),
    (
        "sbom.vulnerable-dependency",
        "Vulnerable dependency",
        "high",
        "dependencies",
        "CWE-1395",
        "A06:2021",
        "requirements_{n}.txt",
        ScanType.SBOM,
    ),
    (
        "ai.missing-authorization",
        "Missing authorization",
        "high",
        "access-control",
        "CWE-862",
        "A01:2021",
        "app/views/admin_{n}.py",
        ScanType.DEEP_AI,
    ),
    (
        "go.weak-hash-md5",
        "Weak hash",
        "low",
        "crypto",
        "CWE-328",
        "A02:2021",
        "internal/auth/token_{n}.go",
        ScanType.SEMGREP,
    ),
)
STATUS_WEIGHTS = (
    (FindingStatus.OPEN, 70),
    (FindingStatus.RESOLVED, 15),
    (FindingStatus.IGNORED, 5),
    (FindingStatus.FALSE_POSITIVE, 5),
    (FindingStatus.NEEDS_MANUAL_REVIEW, 5),
)


@dataclass(frozen=True)
class ScaleResult:
    organization: Organization
    api_key: str
    repositories: int
    findings: int
    events: int
    seconds: float


SCALED_MODELS = (Finding, FindingEvent, BatchFinding)


def statistics_refresh() -> None:
    """Refresh PostgreSQL's planner statistics of the tables a bulk seed just filled.

    Autovacuum would get there in a minute; until it does, the planner takes a table of
    100,000 rows for an empty one and lists an organization's event feed by sorting every
    event instead of reading the feed's index, as a served Kolega with live statistics
    never would. VACUUM also lets a page's count read the index alone.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        for model in SCALED_MODELS:
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def organization_scale_create(
    *,
    repositories: int,
    findings: int,
    slug: str | None = None,
    seed: int = 0,
    events: int | None = None,
) -> ScaleResult:
    """An organization with ``repositories`` repositories sharing ``findings`` findings.

    Each finding has its detection event and, when it is no longer open, the event that
    changed its status; with ``events``, fix activity (which changes no status) brings the
    feed to about that many events. Rows are generated and written BATCH_SIZE findings at a
    time (COPY on PostgreSQL), so a million findings and five million events take the memory
    of one batch.
    """
    started = time.perf_counter()
    rng = random.Random(seed)
    now = clock.now()
    with transaction.atomic():
        organization, key = organization_create(
            name=f"Scale Corp {repositories}x{findings}", slug=slug, key_name="Benchmark key"
        )
        organization.prs_plan = organization.sast_scans_plan = 100_000
        organization.deep_ai_scans_plan = 10_000
        organization.save()
        repos, sources, batches = [], [], {}
        for index in range(repositories):
            repo = Repository(
                organization=organization,
                name=f"service-{index:04d}",
                description="Generated for benchmarks",
                created_at=now - timedelta(days=120),
                updated_at=now,
            )
            repos.append(repo)
        Repository.objects.bulk_create(repos, batch_size=BATCH_SIZE)
        for repo in repos:
            sources.append(SourceRepo(repository=repo, full_name=f"scale/{repo.name}"))
        SourceRepo.objects.bulk_create(sources, batch_size=BATCH_SIZE)
        sources = list(SourceRepo.objects.filter(repository__organization=organization))
        source_by_repo = {source.repository_id: source for source in sources}
        SourceFile.objects.bulk_create(
            [
                SourceFile(source_repo=source, path="README.md", content=f"# {source.full_name}\n")
                for source in sources
            ],
            batch_size=BATCH_SIZE,
        )
        runs = []
        for repo in repos:
            for scan_type in ScanType.values:
                batch = ScanBatch(
                    organization=organization,
                    repository=repo,
                    scan_type=scan_type,
                    created_at=now - timedelta(days=1),
                    materialized_at=now,
                    final_status="completed",
                )
                batches[(repo.id, scan_type)] = batch
                runs.append(ScanRun(batch=batch, source_repo=source_by_repo[repo.id], position=0))
        ScanBatch.objects.bulk_create(batches.values(), batch_size=BATCH_SIZE)
        ScanRun.objects.bulk_create(runs, batch_size=BATCH_SIZE)

        rows = _finding_rows(
            rng,
            now=now,
            organization=organization,
            repos=repos,
            sources=source_by_repo,
            batches=batches,
            findings=findings,
            events=events,
        )
        event_count = 0
        with _staged(FindingEvent) as stage:
            for finding_rows, link_rows, event_rows in rows:
                bulk_insert(Finding, finding_rows)
                bulk_insert(BatchFinding, link_rows)
                bulk_insert(FindingEvent, event_rows, table=stage)
                event_count += len(event_rows)
            # Oldest first, so sequence numbers follow time as they would in a live feed.
            _insert_sorted(FindingEvent, stage, order_by="event_timestamp")
    statistics_refresh()
    return ScaleResult(
        organization=organization,
        api_key=key,
        repositories=repositories,
        findings=findings,
        events=event_count,
        seconds=time.perf_counter() - started,
    )


def _finding_rows(
    rng: random.Random,
    *,
    now,
    organization: Organization,
    repos: list[Repository],
    sources: dict,
    batches: dict,
    findings: int,
    events: int | None,
) -> Iterator[tuple[list[dict], list[dict], list[dict]]]:
    """The rows of the findings, their batch links and their events, BATCH_SIZE findings at
    a time."""
    statuses = [status for status, weight in STATUS_WEIGHTS for _ in range(weight)]
    finding_rows, link_rows, event_rows = [], [], []
    for n in range(findings):
        repo = repos[n % len(repos)]
        check_id, title, severity, category, cwe, owasp, pattern, scan_type = CHECKS[
            n % len(CHECKS)
        ]
        finding_id = uuid.uuid4()
        detected = now - timedelta(days=1 + rng.random() * 89)
        status = rng.choice(statuses)
        file_path = pattern.format(n=n)
        batch = batches[(repo.id, scan_type)]
        finding_rows.append(
            {
                "id": finding_id,
                "organization_id": organization.id,
                "repository_id": repo.id,
                "source_repo_id": sources[repo.id].id,
                "scan_type": scan_type,
                "check_id": check_id,
                "title": title,
                "message": f"{title} in {file_path}",
                "severity": severity,
                "category": category,
                "status": status,
                "file_path": file_path,
                "line": 1 + n % 400,
                "cwe": [cwe],
                "owasp": [owasp],
                "references": [f"https://cwe.mitre.org/data/definitions/{cwe[4:]}.html"],
                "cvss_base_score": None,
                "cvss_severity": None,
                "cvss_vector": None,
                "fingerprint": f"{check_id}:{n}",
                "first_detected_at": detected,
                "last_detected_at": now - timedelta(days=1),
                "resolved_at": now - timedelta(hours=12)
                if status == FindingStatus.RESOLVED
                else None,
                "created_at": detected,
                "updated_at": now,
            }
        )
        link_rows.append({"batch_id": batch.id, "finding_id": finding_id})
        event = {
            "organization_id": organization.id,
            "repository_id": repo.id,
            "finding_id": finding_id,
            "scan_type": scan_type,
            "severity": severity,
            "check_id": check_id,
            "file_path": file_path,
            "actor_user_id": None,
            "metadata": {},
        }
        own = [
            event
            | {
                "id": uuid.uuid4(),
                "scan_batch_id": batch.id,
                "event_type": "detected",
                "previous_status": None,
                "new_status": FindingStatus.OPEN,
                "event_timestamp": detected,
                "created_at": detected,
            }
        ]
        if status != FindingStatus.OPEN:
            changed = detected + timedelta(hours=1 + rng.random() * 24)
            own.append(
                event
                | {
                    "id": uuid.uuid4(),
                    "scan_batch_id": None,
                    "event_type": "resolved_auto"
                    if status == FindingStatus.RESOLVED
                    else "status_changed",
                    "previous_status": FindingStatus.OPEN,
                    "new_status": status,
                    "event_timestamp": changed,
                    "created_at": changed,
                }
            )
        # The n-th finding's share of `events`, so the feed holds about that many in all.
        share = (n + 1) * events // findings - n * events // findings if events else 0
        for _ in range(share - len(own)):
            at = detected + (now - detected) * rng.random()
            own.append(
                event
                | {
                    "id": uuid.uuid4(),
                    "scan_batch_id": None,
                    "event_type": "fix_started",
                    "previous_status": status,
                    "new_status": status,
                    "event_timestamp": at,
                    "created_at": at,
                }
            )
        event_rows.extend(own)
        if len(finding_rows) == BATCH_SIZE:
            yield finding_rows, link_rows, event_rows
            finding_rows, link_rows, event_rows = [], [], []
    yield finding_rows, link_rows, event_rows


@contextmanager
def _staged(model) -> Iterator[str]:
    """A temporary table shaped like ``model``'s, dropped after use; yields its name."""
    quote = connection.ops.quote_name
    stage = quote(f"stage_{model._meta.db_table}")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {stage}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {stage} AS SELECT * FROM {quote(model._meta.db_table)} "
            "WHERE 1 = 0"
        )
    try:
        yield stage
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {stage}")


def _insert_sorted(model, stage: str, *, order_by: str) -> None:
    """Move every row of ``stage`` into ``model``'s table in ``order_by`` order, letting the
    table number them (the database sorts, on disk if it must)."""
    quote = connection.ops.quote_name
    columns = ", ".join(
        quote(field.column) for field in model._meta.concrete_fields if not field.primary_key
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "
            f"SELECT {columns} FROM {stage} ORDER BY {quote(order_by)}"
        )
