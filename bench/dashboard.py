"""The team dashboard with 100,000 findings mirrored, requested at least 100 times.

Mirror rows are inserted with bulk_create straight into a database of their own
(`<name>_dashboard_bench` on the PostgreSQL server of DATABASE_URL, else a SQLite file under
var/bench), in a child process (`python -m bench.dashboard <database-url>`) so that its
settings are its own. Server time is measured with Django's test Client in-process. Sizes can
be lowered for a quick look with BENCH_DASHBOARD_FINDINGS and BENCH_DASHBOARD_REQUESTS. A
scaled benchmark: SCALE sets its size and its target (see `bench.scale`).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from bench import common, scale
from bench.registry import Figure, benchmark

FINDINGS = scale.findings("BENCH_DASHBOARD_FINDINGS")
REQUESTS = max(100, int(os.environ.get("BENCH_DASHBOARD_REQUESTS", "150")))
REPOSITORIES = 200
BATCHES_PER_REPOSITORY_AND_TYPE = 5
ACTIVE_BATCHES = 12
PULL_REQUESTS = 500

P95_TARGET_MS = 50.0 if scale.active() else 100.0
SEVERITIES = ("critical", "high", "medium", "low")
STATUSES = ("open", "open", "open", "resolved", "ignored", "false_positive")
SCAN_TYPES = ("secrets_scan", "semgrep_scan", "sbom_scan", "deep_ai_scan")


@benchmark("dashboard")
def dashboard_benchmark() -> list[Figure]:
    database_url = common.database_url("dashboard")
    env = common.environment(database_url)
    env.pop("REDIS_URL", None)  # the page never needs the broker here; keep the run local
    result = common.run_child(
        ["-m", "bench.dashboard", database_url], env, what="dashboard benchmark"
    )
    return [
        Figure(
            "dashboard_p95_ms",
            result["p95_ms"],
            "ms",
            f"p95 < {P95_TARGET_MS:.0f} ms with {result['findings']:,} findings mirrored, "
            f"{result['requests']} requests",
            result["p95_ms"] < P95_TARGET_MS and result["findings"] >= 100_000,
        ),
        Figure("dashboard_p50_ms", result["p50_ms"], "ms"),
        Figure("dashboard_queries_per_request", result["queries"], "queries"),
        # The web process's own CPU per request (the database's work is not in it): what the
        # page costs, whatever else the machine is doing.
        Figure("dashboard_web_cpu_ms_per_request", result["cpu_ms"], "ms"),
        # Server time is wall-clock: on a machine shared with other work it grows with the load.
        Figure("dashboard_bench_load_average", result["load_average"], "runnable processes"),
        Figure("dashboard_bench_findings", result["findings"], "findings"),
    ]


# The child process


def _populate(rng: random.Random, now: datetime) -> dict:
    from django.contrib.auth import get_user_model

    from triage.models import (
        Finding,
        FindingSearch,
        Fix,
        KolegaConnection,
        Membership,
        PullRequest,
        Repository,
        Role,
        ScanBatch,
        SyncState,
        Team,
    )

    team = Team.objects.create(name="Bench", slug="bench")
    user = get_user_model().objects.create_user("bench-engineer")
    Membership.objects.create(team=team, user=user, role=Role.TRIAGER)
    connection = KolegaConnection.objects.create(
        team=team,
        name="Bench org",
        api_key="kcp_bench_key",
        organization_id="org-bench",
        scopes=["read", "write"],
    )
    SyncState.objects.create(
        connection=connection, last_success_at=now, last_full_sync_at=now - timedelta(hours=1)
    )
    common = {"team": team, "connection": connection, "synced_at": now}
    start = now - timedelta(days=365)
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
            for _ in range(BATCHES_PER_REPOSITORY_AND_TYPE):
                created = now - timedelta(days=rng.uniform(0.1, 120))
                batches.append(
                    ScanBatch(
                        **common,
                        repository=repository,
                        upstream_id=f"batch-{len(batches)}",
                        scan_type=scan_type,
                        status=rng.choice(("completed", "completed", "partial_failure", "failed")),
                        total_repositories=1,
                        scans_completed=1,
                        percent_complete=100.0,
                        created_at=created,
                        completed_at=created + timedelta(minutes=5),
                        findings_synced_at=created + timedelta(minutes=6),
                    )
                )
    for i in range(ACTIVE_BATCHES):
        batches.append(
            ScanBatch(
                **common,
                repository=repositories[i],
                upstream_id=f"batch-active-{i}",
                scan_type=SCAN_TYPES[i % 4],
                status=("queued", "creating_scans", "scanning", "assessing")[i % 4],
                total_repositories=1,
                percent_complete=rng.uniform(0, 95),
                created_at=now - timedelta(seconds=rng.uniform(0, 60)),
            )
        )
    ScanBatch.objects.bulk_create(batches, batch_size=5000)

    findings = []
    for i in range(FINDINGS):
        # Skewed: a few repositories hold most of the findings, as in real organizations.
        repository = repositories[min(REPOSITORIES - 1, int(rng.paretovariate(1.2)) - 1)]
        detected = start + timedelta(seconds=rng.uniform(0, 365 * 86400))
        status = rng.choice(STATUSES)
        findings.append(
            Finding(
                **common,
                repository=repository,
                upstream_id=f"finding-{i}",
                check_id=f"rule.{i % 97}",
                severity=rng.choices(SEVERITIES, (1, 3, 4, 3))[0],
                status=status,
                file_path=f"src/module_{i % 500}/file_{i}.py",
                message="User input reaches a sensitive sink.",
                title=f"Finding {i}",
                category="injection",
                scan_type=SCAN_TYPES[i % 4],
                first_detected_at=detected,
                last_detected_at=detected,
                resolved_at=None if status == "open" else detected,
                created_at=detected,
                updated_at=detected,
            )
        )
        if len(findings) >= 20000:
            FindingSearch.objects.write_of(Finding.objects.bulk_create(findings, batch_size=5000))
            findings = []
    FindingSearch.objects.write_of(Finding.objects.bulk_create(findings, batch_size=5000))
    fixes = Fix.objects.bulk_create(
        [
            Fix(
                **common,
                repository=repositories[i % REPOSITORIES],
                upstream_id=f"fix-{i}",
                title=f"Fix {i}",
                status="completed",
                created_at=now - timedelta(days=rng.uniform(0, 120)),
            )
            for i in range(PULL_REQUESTS)
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
                merge_status=rng.choice(("open", "merged", "closed")),
                created_at=fix.created_at,
            )
            for n, fix in enumerate(fixes, start=1)
        ]
    )
    # Filled the way a first sync fills it, and folded as after one: the counts the
    # dashboard sums are one row per group, not a row per statement that wrote findings.
    from triage.sync.counts import finding_counts_compact

    finding_counts_compact()
    return {"user": user, "findings": Finding.objects.count()}


def _run(database_url: str) -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.urls import reverse

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"migrated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    started = time.perf_counter()
    data = _populate(random.Random(20261129), datetime.now(UTC))
    print(f"populated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    url = reverse("dashboard", kwargs={"team_slug": "bench"})
    client = common.signed_in_client(data["user"], url)
    _, executed = common.counted_get(client, url)
    timings = []
    cpu_started = time.process_time()
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    cpu_ms = (time.process_time() - cpu_started) * 1000 / REQUESTS
    timings.sort()
    load_average = os.getloadavg()[0]
    return {
        "load_average": round(load_average, 2),
        "cpu_ms": round(cpu_ms, 1),
        "findings": data["findings"],
        "requests": REQUESTS,
        "queries": len(executed),
        "p50_ms": round(statistics.median(timings), 1),
        "p95_ms": round(timings[max(0, int(len(timings) * 0.95) - 1)], 1),
    }


if __name__ == "__main__":
    if len(sys.argv) > 1:
        print(json.dumps(_run(sys.argv[1])))
    else:
        # `python -m bench.dashboard` alone: run it as `python -m bench dashboard` would.
        from bench.__main__ import main

        sys.exit(main(["dashboard"]))
