"""Reports page and findings CSV export at 100,000 findings and 500,000 finding events.

Mirror rows are inserted with bulk_create straight into a database of their own
(`<name>_reports_bench` on the PostgreSQL server of DATABASE_URL, else a SQLite file under
var/bench), in a child process (`python -m bench.reports <database-url>`) so that its memory
and settings are its own. Server time is measured with Django's test Client in-process.
Sizes can be lowered for a quick look with BENCH_REPORT_FINDINGS and BENCH_REPORT_EVENTS. A
scaled benchmark: SCALE sets both sizes and the scaled target, p95 < 150 ms with the cache
cold (see `bench.scale`). Rows are generated and written a batch at a time, so filling takes
the same memory at a million findings as at a thousand.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

from bench import common, scale
from bench.registry import Figure, benchmark

FINDINGS = scale.findings("BENCH_REPORT_FINDINGS")
EVENTS = scale.events("BENCH_REPORT_EVENTS", 500_000)
BATCH = 5000
REPOSITORIES = 300
HISTORY_DAYS = 365
PAGE_REQUESTS = 40
UNCACHED_PAGE_REQUESTS = 15

PAGE_P95_TARGET_MS = 300.0
UNCACHED_P95_TARGET_MS = 150.0  # at SCALE: the first visit after a sync, nothing cached
EXPORT_PEAK_TARGET_MB = 50.0
SEVERITIES = ("critical", "high", "medium", "low")
SCAN_TYPES = ("secrets_scan", "semgrep_scan", "sbom_scan", "deep_ai_scan")
# Query strings a manager clicks through; repeated so every variant is timed several times.
PAGE_QUERIES = ["", "period=7", "period=90", "period=30&coverage_days=7", "repository={repo}"]


@benchmark("reports")
def reports_benchmark() -> list[Figure]:
    database_url = common.database_url("reports", reuse=os.environ.get("BENCH_REPORT_REUSE") == "1")
    env = common.environment(database_url)
    env.pop("REDIS_URL", None)  # the page never needs the broker here; keep the run local
    result = common.run_child(["-m", "bench.reports", database_url], env, what="reports benchmark")
    return [
        Figure(
            "reports_page_p95_ms",
            result["page_p95_ms"],
            "ms",
            f"p95 < {PAGE_P95_TARGET_MS:.0f} ms",
            result["page_p95_ms"] < PAGE_P95_TARGET_MS,
        ),
        Figure("reports_page_median_ms", result["page_median_ms"], "ms"),
        # The first request after a sync wrote rows: nothing kept in the cache for it.
        Figure(
            "reports_page_uncached_p95_ms",
            result["page_uncached_p95_ms"],
            "ms",
            *(
                (
                    f"p95 < {UNCACHED_P95_TARGET_MS:.0f} ms with the cache cold",
                    result["page_uncached_p95_ms"] < UNCACHED_P95_TARGET_MS,
                )
                if scale.active()
                else ()
            ),
        ),
        Figure("reports_page_uncached_median_ms", result["page_uncached_median_ms"], "ms"),
        # The web process's own CPU per request (the rest is PostgreSQL and waiting for CPU).
        Figure("reports_page_p95_cpu_ms", result["page_p95_cpu_ms"], "ms"),
        Figure("reports_bench_load_average", result["load_average"], "1-min load"),
        Figure(
            "findings_csv_export_peak_memory_mb",
            result["export_peak_mb"],
            "MB",
            f"< {EXPORT_PEAK_TARGET_MB:.0f} MB traced Python peak while streaming "
            f"{result['export_rows']:,} rows (flat: independent of the row count)",
            result["export_peak_mb"] < EXPORT_PEAK_TARGET_MB
            and result["export_rows"] == result["findings"],
        ),
        Figure("findings_csv_export_rows_per_second", result["export_rows_per_s"], "rows/s"),
        # The process's resident memory while streaming, above what it held before the export.
        Figure("findings_csv_export_rss_growth_mb", result["export_rss_growth_mb"], "MB"),
        Figure("findings_csv_export_size_mb", result["export_size_mb"], "MB"),
        Figure("report_snapshots_rebuild_seconds", result["rebuild_seconds"], "s"),
        Figure("reports_bench_findings", result["findings"], "findings"),
        Figure("reports_bench_events", result["events"], "events"),
    ]


# The child process


def _populate(rng: random.Random, now: datetime) -> dict:
    from django.contrib.auth import get_user_model

    from triage.models import (
        Finding,
        FindingEvent,
        FindingSearch,
        Fix,
        KolegaConnection,
        Membership,
        PullRequest,
        Repository,
        Role,
        ScanBatch,
        Team,
    )

    team = Team.objects.create(name="Bench", slug="bench")
    user = get_user_model().objects.create_user("bench-manager")
    Membership.objects.create(team=team, user=user, role=Role.VIEWER)
    connection = KolegaConnection.objects.create(
        team=team, name="Bench org", api_key="kcp_bench_key", organization_id="org-bench"
    )
    common = {"team": team, "connection": connection, "synced_at": now}
    start = now - timedelta(days=HISTORY_DAYS)
    repositories = Repository.objects.bulk_create(
        [
            Repository(
                **common,
                upstream_id=f"repo-{i}",
                name=f"service-{i:03d}",
                created_at=start,
                updated_at=start,
            )
            for i in range(REPOSITORIES)
        ]
    )
    batches = []
    for repository in repositories:
        for scan_type in SCAN_TYPES:
            for _ in range(3):
                created = now - timedelta(days=rng.uniform(0, 120))
                batches.append(
                    ScanBatch(
                        **common,
                        repository=repository,
                        upstream_id=f"batch-{len(batches)}",
                        scan_type=scan_type,
                        status=rng.choice(("completed", "completed", "failed")),
                        created_at=created,
                        completed_at=created + timedelta(minutes=5),
                    )
                )
    ScanBatch.objects.bulk_create(batches, batch_size=5000)

    events_per_finding = EVENTS / FINDINGS
    findings, events = [], []
    event_count = 0
    for i in range(FINDINGS):
        repository = repositories[i % REPOSITORIES]
        severity = rng.choices(SEVERITIES, (1, 3, 4, 3))[0]
        detected = start + timedelta(seconds=rng.uniform(0, HISTORY_DAYS * 86400))
        upstream_id = f"finding-{i}"
        # detected, then alternating resolutions and reopenings, plus fix activity
        count = max(1, round(rng.gauss(events_per_finding, 1.5)))
        moment, status, resolved_at = detected, "open", None
        timeline = [("detected", "open", moment)]
        for _ in range(count - 1):
            moment += timedelta(hours=rng.expovariate(1 / 200))
            if moment >= now:
                break
            kind = rng.random()
            if kind < 0.15:
                timeline.append(("fix_started", status, moment))
            elif status == "open":
                status, resolved_at = "resolved", moment
                timeline.append((rng.choice(("resolved_auto", "resolved_manual")), status, moment))
            else:
                status, resolved_at = "open", None
                timeline.append(("reopened", status, moment))
        findings.append(
            Finding(
                **common,
                repository=repository,
                upstream_id=upstream_id,
                check_id=f"rule.{i % 97}",
                severity=severity,
                status=status,
                file_path=f"src/module_{i % 500}/file_{i}.py",
                message="User input reaches a sensitive sink.",
                title=f"Finding {i}",
                category="injection",
                scan_type=SCAN_TYPES[i % 3],
                cwe=[f"CWE-{79 + i % 10}"],
                first_detected_at=detected,
                last_detected_at=moment,
                resolved_at=resolved_at,
                created_at=detected,
                updated_at=moment,
            )
        )
        for event_type, new_status, at in timeline:
            event_count += 1
            events.append(
                FindingEvent(
                    **common,
                    upstream_id=f"event-{event_count}",
                    organization_id="org-bench",
                    repository_upstream_id=repository.upstream_id,
                    finding_upstream_id=upstream_id,
                    event_type=event_type,
                    new_status=new_status,
                    severity=severity,
                    event_timestamp=at,
                    created_at=at,
                )
            )
        if len(findings) >= BATCH:
            FindingSearch.objects.write_of(Finding.objects.bulk_create(findings))
            findings = []
        if len(events) >= BATCH:
            FindingEvent.objects.bulk_create(events)
            events = []
    FindingSearch.objects.write_of(Finding.objects.bulk_create(findings))
    FindingEvent.objects.bulk_create(events)
    fixes = Fix.objects.bulk_create(
        [
            Fix(
                **common,
                repository=repositories[i % REPOSITORIES],
                upstream_id=f"fix-{i}",
                title=f"Fix {i}",
                status=rng.choice(("completed", "completed", "failed", "running")),
                created_at=now - timedelta(days=rng.uniform(0, 120)),
            )
            for i in range(2000)
        ]
    )
    PullRequest.objects.bulk_create(
        [
            PullRequest(
                **common,
                fix=fix,
                upstream_id=f"acme/app#{n}",
                repo_full_name="acme/app",
                branch_name=f"kolega/fix-{n}",
                pr_number=n,
                pr_url=f"https://example.com/acme/app/pull/{n}",
                merge_status=rng.choice(("open", "merged")),
                created_at=fix.created_at,
            )
            for n, fix in enumerate(fixes[:800], start=1)
        ]
    )
    return {"team": team, "user": user, "repository": repositories[0]}


def _top_up_events(rng: random.Random, now: datetime, team) -> None:
    """Fix activity on random findings until the feed holds EVENTS events: it changes no
    status, and the report must read past it."""
    from triage.models import Finding, FindingEvent

    missing = EVENTS - FindingEvent.objects.filter(team=team).count()
    if missing <= 0:
        return
    findings = Finding.objects.filter(team=team).order_by("pk")
    count = findings.count()
    rows, written = [], 0
    columns = ("connection_id", "upstream_id", "repository__upstream_id", "severity", "status")
    values = findings.values_list(*columns, "first_detected_at")
    for index, row in enumerate(values.iterator(chunk_size=BATCH)):
        connection_id, upstream_id, repository_id, severity, status, first = row
        # Spread over every finding, `missing` in all: the n-th gets its share of them.
        for _ in range((index + 1) * missing // count - index * missing // count):
            at = first + (now - first) * rng.random()
            written += 1
            rows.append(
                FindingEvent(
                    team=team,
                    connection_id=connection_id,
                    synced_at=now,
                    upstream_id=f"fix-event-{now.timestamp():.0f}-{written}",
                    organization_id="org-bench",
                    repository_upstream_id=repository_id,
                    finding_upstream_id=upstream_id,
                    event_type="fix_started",
                    new_status=status,
                    severity=severity,
                    event_timestamp=at,
                    created_at=at,
                )
            )
        if len(rows) >= BATCH:
            FindingEvent.objects.bulk_create(rows)
            rows = []
    FindingEvent.objects.bulk_create(rows)


def _keep_quota_reading(team, now: datetime) -> None:
    """The quota reading a sync keeps, so the page shows the quota beside the fix funnel."""
    from triage.models import KolegaConnection, SyncRun

    connection = KolegaConnection.objects.get(team=team)
    start = now - timedelta(days=10)
    counter = {"plan": 500, "topup": 0, "used": 120, "remaining": 380}
    SyncRun.objects.create(
        connection=connection,
        team=team,
        kind=SyncRun.Kind.INCREMENTAL,
        status=SyncRun.Status.SUCCEEDED,
        details={
            "quota": {
                "read_at": now.isoformat(),
                "balance": {
                    "period_start": start.isoformat(),
                    "period_end": (start + timedelta(days=30)).isoformat(),
                    "prs": counter,
                    "sast_scans": counter,
                    "deep_ai_scans": counter,
                    "repositories": {"max": None, "current": REPOSITORIES},
                },
            }
        },
    )


def _percentiles(timings: list[float]) -> tuple[float, float]:
    timings = sorted(timings)
    p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
    return round(p95, 1), round(statistics.median(timings), 1)


def _resident_mb() -> float:
    """The process's resident memory now (Linux), in MB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _consume(response) -> tuple[int, int, float]:
    """Read a streamed response: its bytes, its lines, and the most the process's resident
    memory grew above what it was before (sampled every 1,000 chunks; 0 off Linux)."""
    size = lines = 0
    sampled = os.path.exists("/proc/self/statm")
    before = highest = _resident_mb() if sampled else 0.0
    for n, chunk in enumerate(response.streaming_content):
        size += len(chunk)
        lines += chunk.count(b"\n")
        if sampled and n % 1000 == 0:
            highest = max(highest, _resident_mb())
    if sampled:
        highest = max(highest, _resident_mb())
    return size, lines, highest - before


def _run(database_url: str) -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from triage.services.reports import report_snapshots_rebuild

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"migrated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    started = time.perf_counter()
    from django.contrib.auth import get_user_model

    from triage.models import Finding, FindingEvent, Repository, Team

    rng = random.Random(20261129)
    now = datetime.now(UTC)
    team = Team.objects.filter(slug="bench").first()
    if team is None:
        data = _populate(rng, now)
    else:
        from triage.models import KolegaConnection

        # Each run encrypts with keys of its own: the kept connection's key is stored again
        # under this run's (the page never calls Kolega).
        KolegaConnection.objects.filter(team=team).update(api_key="kolega_bench_reused")
        data = {
            "team": team,
            "user": get_user_model().objects.get(username="bench-manager"),
            "repository": Repository.objects.filter(team=team).order_by("pk").first(),
        }
    _top_up_events(rng, now, data["team"])
    _keep_quota_reading(data["team"], now)
    data["findings"] = Finding.objects.filter(team=data["team"]).count()
    data["events"] = FindingEvent.objects.filter(team=data["team"]).count()
    print(f"populated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")

    started = time.perf_counter()
    report_snapshots_rebuild(team=data["team"])
    rebuild_seconds = time.perf_counter() - started

    client = Client()
    client.force_login(data["user"])
    page_url = reverse("reports", kwargs={"team_slug": "bench"})
    for query in PAGE_QUERIES:  # warm-up: connections, templates, caches
        client.get(f"{page_url}?{query.format(repo=data['repository'].pk)}")
    timings, cpu = [], []
    load_before = os.getloadavg()[0]
    for i in range(PAGE_REQUESTS):
        query = PAGE_QUERIES[i % len(PAGE_QUERIES)].format(repo=data["repository"].pk)
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(f"{page_url}?{query}")
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        assert response.status_code == 200, response.status_code
    timings.sort()
    cpu.sort()
    # Every figure computed afresh, as on the first visit after a sync that wrote rows.
    from django.core.cache import cache

    uncached = []
    for i in range(UNCACHED_PAGE_REQUESTS):
        query = PAGE_QUERIES[i % len(PAGE_QUERIES)].format(repo=data["repository"].pk)
        cache.clear()
        started = time.perf_counter()
        response = client.get(f"{page_url}?{query}")
        uncached.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    uncached_p95, uncached_median = _percentiles(uncached)

    export_url = reverse("reports-export-findings", kwargs={"team_slug": "bench"})
    started = time.perf_counter()
    size, lines, rss_growth = _consume(client.get(export_url))
    export_seconds = time.perf_counter() - started
    # Memory on a second pass: tracing slows Python down too much to time the same pass.
    tracemalloc.start()
    _consume(client.get(export_url))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    export_rows = lines - 1  # the header line
    return {
        "findings": data["findings"],
        "events": data["events"],
        "rebuild_seconds": round(rebuild_seconds, 2),
        "page_p95_ms": round(timings[max(0, int(len(timings) * 0.95) - 1)], 1),
        "page_median_ms": round(statistics.median(timings), 1),
        "page_p95_cpu_ms": round(cpu[max(0, int(len(cpu) * 0.95) - 1)], 1),
        "page_uncached_p95_ms": uncached_p95,
        "page_uncached_median_ms": uncached_median,
        "load_average": round((load_before + os.getloadavg()[0]) / 2, 1),
        "export_rows": export_rows,
        "export_peak_mb": round(peak / 1e6, 2),
        "export_size_mb": round(size / 1e6, 2),
        "export_rows_per_s": round(export_rows / export_seconds),
        "export_rss_growth_mb": round(rss_growth, 1),
    }


if __name__ == "__main__":
    print(json.dumps(_run(sys.argv[1])))
