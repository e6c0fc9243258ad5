"""Findings triage with 100,000 findings mirrored, and a bulk status change of 1,000 findings.

`findings_page`: the triage table (filtered and sorted, 50 rows) requested at least 100 times,
and page 2,000 of the whole list (keyset pagination), server time measured with Django's test
Client in-process. Mirror rows are inserted with bulk_create.

`findings_bulk`: a bulk status job over 1,000 findings against the sandbox served over real
HTTP by a gunicorn subprocess with threads, every request delayed 20 ms by the sandbox's
fault injection, so the job's concurrent PATCHes overlap as they would against Kolega.

`findings_groups`: the findings page grouped by rule (`?group=rule`, one row per check_id with
counts per status and repositories, 50 rules a page) over the same 100,000 findings, unfiltered,
so every finding is aggregated; requested at least 100 times like the table.

Each runs in a child process (`python -m bench.findings page|bulk|groups <database-url>`) on a
database of its own. Sizes can be lowered for a quick look with BENCH_FINDINGS_PAGE_FINDINGS
and BENCH_FINDINGS_BULK. `findings_page` is a scaled benchmark: SCALE sets its size and its
target (see `bench.scale`).
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

FINDINGS = scale.findings("BENCH_FINDINGS_PAGE_FINDINGS")
# The grouped page and My queue are not run at SCALE: their mirror keeps its own size.
UNSCALED_FINDINGS = int(os.environ.get("BENCH_FINDINGS_PAGE_FINDINGS", "100000"))
REQUESTS = max(100, int(os.environ.get("BENCH_FINDINGS_PAGE_REQUESTS", "150")))
BULK_FINDINGS = int(os.environ.get("BENCH_FINDINGS_BULK", "1000"))
BULK_LATENCY_MS = 20
REPOSITORIES = 200
# Page 2,000 of the whole list, or the last full page of a smaller mirror.
DEEP_PAGE = min(2000, max(2, FINDINGS // 50))

PAGE_P95_TARGET_MS = 25.0 if scale.active() else 50.0
GROUPS_P95_TARGET_MS = 100.0
GROUPS_QUERY = "group=rule"
BULK_TARGET_SECONDS = 15.0
PAGE_QUERY = "status=open&severity=critical&severity=high&sort=severity"
SEVERITIES = ("critical", "high", "medium", "low")
STATUSES = ("open", "open", "open", "resolved", "ignored", "false_positive")
SCAN_TYPES = ("secrets_scan", "semgrep_scan", "sbom_scan", "deep_ai_scan")


def _child(mode: str) -> dict:
    database_url = common.database_url(f"findings_{mode}")
    env = common.environment(database_url)
    env.pop("REDIS_URL", None)  # jobs are run in-process here; keep the run local
    return common.run_child(
        ["-m", "bench.findings", mode, database_url], env, what=f"findings {mode} benchmark"
    )


def _page_figures(prefix: str, result: dict, target: str, met: bool) -> list[Figure]:
    """The figures of a page requested ``REQUESTS`` times: its p95 against the target, its
    p50, its queries, the findings mirrored and the load it was measured under."""
    enough = result["findings"] >= 100_000
    return [
        Figure(f"{prefix}_p95_ms", result["p95_ms"], "ms", target, met and enough),
        Figure(f"{prefix}_p50_ms", result["p50_ms"], "ms"),
        Figure(f"{prefix}_queries_per_request", result["queries"], "queries"),
        Figure(f"{prefix}_bench_findings", result["findings"], "findings"),
        # Server time is wall-clock: on a machine shared with other work it grows with the load.
        Figure(f"{prefix}_bench_load_average", result["load_average"], "runnable processes"),
    ]


@benchmark("findings_page")
def findings_page_benchmark() -> list[Figure]:
    result = _child("page")
    enough = result["findings"] >= 100_000
    target = (
        f"p95 < {PAGE_P95_TARGET_MS:.0f} ms (filtered and sorted, 50 rows) with "
        f"{result['findings']:,} findings mirrored, {result['requests']} requests"
    )
    return [
        *_page_figures("findings_page", result, target, result["p95_ms"] < PAGE_P95_TARGET_MS),
        Figure(
            "findings_page_2000_p95_ms",
            result["deep_p95_ms"],
            "ms",
            f"p95 < {PAGE_P95_TARGET_MS:.0f} ms on page {DEEP_PAGE:,} (keyset, not OFFSET)",
            result["deep_p95_ms"] < PAGE_P95_TARGET_MS and enough,
        ),
        Figure("findings_page_2000_p50_ms", result["deep_p50_ms"], "ms"),
    ]


@benchmark("findings_bulk")
def findings_bulk_benchmark() -> list[Figure]:
    result = _child("bulk")
    return [
        Figure(
            "bulk_status_change_seconds",
            result["seconds"],
            "s",
            f"< {BULK_TARGET_SECONDS:.0f} s for {result['findings']:,} findings against the "
            f"sandbox with {BULK_LATENCY_MS} ms injected latency",
            result["seconds"] < BULK_TARGET_SECONDS
            and result["findings"] >= 1000
            and result["failed"] == 0,
        ),
        Figure("bulk_status_change_findings", result["findings"], "findings"),
        Figure("bulk_status_change_changed", result["changed"], "findings"),
        Figure("bulk_status_change_unchanged", result["unchanged"], "findings"),
        Figure("bulk_status_change_failed", result["failed"], "findings"),
        Figure("bulk_status_change_concurrency", result["concurrency"], "requests in flight"),
    ]


@benchmark("findings_groups")
def findings_groups_benchmark() -> list[Figure]:
    result = _child("groups")
    return [
        *_page_figures(
            "findings_grouped_by_rule",
            result,
            f"< {GROUPS_P95_TARGET_MS:.0f}",
            result["p95_ms"] < GROUPS_P95_TARGET_MS,
        ),
        Figure("findings_grouped_by_rule_rules", result["rules"], "rules"),
    ]


# The child processes


def _populate_mirror(rng: random.Random, now: datetime, findings: int) -> dict:
    from django.contrib.auth import get_user_model

    from triage.models import (
        Finding,
        FindingSearch,
        KolegaConnection,
        Membership,
        Repository,
        Role,
        SyncState,
        Team,
    )

    team = Team.objects.create(name="Bench", slug="bench")
    user = get_user_model().objects.create_user("bench-triager")
    Membership.objects.create(team=team, user=user, role=Role.TRIAGER)
    connection = KolegaConnection.objects.create(
        team=team,
        name="Bench org",
        api_key="kcp_bench_key",
        organization_id="org-bench",
        scopes=["read", "write"],
    )
    SyncState.objects.create(connection=connection, last_success_at=now)
    common = {"team": team, "connection": connection, "synced_at": now}
    repositories = Repository.objects.bulk_create(
        [
            Repository(
                upstream_id=f"repo-{n}",
                name=f"service-{n:03d}",
                source_repos=[{"full_name": f"acme/service-{n:03d}", "default_branch": "main"}],
                created_at=now - timedelta(days=400),
                updated_at=now,
                **common,
            )
            for n in range(REPOSITORIES)
        ]
    )
    rows = []
    for n in range(findings):
        title = f"Finding {n % 97} of its kind"
        path = f"src/module_{n % 1000}/file_{n}.py"
        check_id = f"rules.check-{n % 120}"
        message = f"Something unsafe in {path}"
        first = now - timedelta(days=rng.random() * 365)
        rows.append(
            Finding(
                upstream_id=f"finding-{n}",
                repository=repositories[n % REPOSITORIES],
                check_id=check_id,
                severity=rng.choice(SEVERITIES),
                status=rng.choice(STATUSES),
                file_path=path,
                message=message,
                title=title,
                category="security",
                scan_type=rng.choice(SCAN_TYPES),
                cwe=[f"CWE-{rng.choice((79, 89, 798, 22, 502))}"],
                owasp=["A03:2021 - Injection"],
                first_detected_at=first,
                last_detected_at=first + (now - first) * rng.random(),
                created_at=first,
                updated_at=now,
                **common,
            )
        )
        if len(rows) == 5000:
            FindingSearch.objects.write_of(Finding.objects.bulk_create(rows))
            rows = []
    FindingSearch.objects.write_of(Finding.objects.bulk_create(rows))
    return {"user": user, "team": team, "findings": Finding.objects.count()}


def _timed(client, url: str, count: int) -> list[float]:
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    timings.sort()
    return timings


def _p95(timings: list[float]) -> float:
    return round(timings[max(0, int(len(timings) * 0.95) - 1)], 1)


def _populated(findings: int) -> dict:
    started = time.perf_counter()
    data = _populate_mirror(random.Random(20261129), datetime.now(UTC), findings)
    print(f"populated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return data


def _timed_page(data: dict, query: str, row_marker: bytes):
    """The findings page at ``query`` (50 rows, each marked by ``row_marker``) requested
    ``REQUESTS`` times: the client and the figures of the page."""
    from django.urls import reverse

    url = reverse("findings", kwargs={"team_slug": "bench"}) + "?" + query
    client = common.signed_in_client(data["user"], url)
    response, queries = common.counted_get(client, url)
    assert response.content.count(row_marker) == 50
    timings = _timed(client, url, REQUESTS)
    return client, {
        "load_average": round(os.getloadavg()[0], 2),
        "findings": data["findings"],
        "requests": REQUESTS,
        "queries": len(queries),
        "p50_ms": round(statistics.median(timings), 1),
        "p95_ms": _p95(timings),
    }


def _run_page() -> dict:
    from django.urls import reverse

    from triage.selectors import findings as selectors

    data = _populated(FINDINGS)
    client, figures = _timed_page(data, PAGE_QUERY, b"data-finding-row ")

    # Page DEEP_PAGE of the whole list in the default order: the cursor of the row before it.
    sort = selectors.SORTS["last_detected"]
    before = (
        selectors.findings_for_team(team=data["team"])
        .order_by("-last_detected_at", "-pk")[(DEEP_PAGE - 1) * 50 - 1 : (DEEP_PAGE - 1) * 50]
        .get()
    )
    cursor = selectors._encode_cursor("after", sort, before)
    deep_url = reverse("findings", kwargs={"team_slug": "bench"})
    deep_url += f"?sort=last_detected&cursor={cursor}"
    deep = client.get(deep_url)
    assert deep.content.count(b"data-finding-row ") == 50
    deep_timings = _timed(client, deep_url, REQUESTS)
    return {
        **figures,
        "deep_p50_ms": round(statistics.median(deep_timings), 1),
        "deep_p95_ms": _p95(deep_timings),
    }


def _run_groups() -> dict:
    """The grouped page over the whole mirror: every finding is aggregated on each request."""
    from triage.models import Finding

    _, figures = _timed_page(_populated(UNSCALED_FINDINGS), GROUPS_QUERY, b"data-rule-group=")
    return {**figures, "rules": Finding.objects.values("check_id").distinct().count()}


def _run_bulk() -> dict:
    from django.contrib.auth import get_user_model

    from sandbox.services.faults import fault_config_set
    from sandbox.services.scale import organization_scale_create
    from triage.models import Finding, KolegaConnection, Membership, Role, Team
    from triage.services.connections import connection_create
    from triage.services.findings import (
        finding_status_job_create,
        finding_status_job_run,
        job_concurrency,
    )
    from triage.sync import sync_connection_full

    scaled = organization_scale_create(repositories=20, findings=BULK_FINDINGS, slug="bulk")
    team = Team.objects.create(name="Bench", slug="bench")
    user = get_user_model().objects.create_user("bench-admin")
    Membership.objects.create(team=team, user=user, role=Role.ADMIN)
    server = common.sandbox_server(
        dict(os.environ), "--workers", "2", "--threads", "16", "--worker-class", "gthread"
    )
    with server as base_url:
        created = connection_create(
            team=team, actor=user, name="Bulk", base_url=base_url, api_key=scaled.api_key
        )
        connection = KolegaConnection.objects.get(pk=created.pk)
        run = sync_connection_full(connection=connection)
        assert run.status == "succeeded", run.error
        ids = list(Finding.objects.filter(connection=connection).values_list("pk", flat=True))
        fault_config_set(organization=scaled.organization, latency_ms=BULK_LATENCY_MS)
        # No worker consumes the queued task here (the broker is local): the job runs in
        # this process, timed alone, exactly as the task would run it.
        job = finding_status_job_create(team=team, actor=user, finding_ids=ids, status="ignored")
        started = time.perf_counter()
        job = finding_status_job_run(job_id=job.pk)
        seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        "findings": job.total,
        "changed": job.changed,
        "unchanged": job.unchanged,
        "failed": job.failed,
        "concurrency": job_concurrency(),
    }


def _run(mode: str) -> dict:
    import django

    django.setup()
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"migrated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    runs = {"page": _run_page, "groups": _run_groups, "bulk": _run_bulk}
    return runs[mode]()


if __name__ == "__main__":
    if len(sys.argv) > 2:
        print(json.dumps(_run(sys.argv[1])))
    else:
        from bench.__main__ import main

        sys.exit(main(["findings_page", "findings_groups", "findings_bulk"]))
