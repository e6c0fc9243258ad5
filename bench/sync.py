"""Mirror sync against a large sandbox organization (`sandbox_scale`).

The sandbox runs as a separate gunicorn server, so the syncing process measured is the
portal's alone. The data goes to a database of its own: `<name>_sync_bench` on the PostgreSQL
server of DATABASE_URL when it is set, else a SQLite file under var/bench. Sizes can be
lowered for a quick look with BENCH_FINDINGS and BENCH_REPOSITORIES. A scaled benchmark: SCALE
sets the findings and gives the organization five events per finding (see `bench.scale`); the
throughput on the database side (findings per second of page writing) is then held to
5,000 findings/s.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from urllib.parse import urlsplit

from bench import common, scale
from bench.common import ROOT, sandbox_server
from bench.notifications import local_receiver
from bench.registry import Figure, benchmark

FINDINGS = scale.findings("BENCH_FINDINGS")
# At SCALE, five events per finding; else the organization's own one or two per finding.
EVENTS = scale.events() or None
REPOSITORIES = int(os.environ.get("BENCH_REPOSITORIES", "50"))
# The row-by-row path writes some 300,000 rows one statement at a time for 100,000
# findings: hours. It runs on a smaller organization of the same shape, and the two paths
# are compared by throughput (findings per second), which row by row is flat in size.
ROW_BY_ROW_FINDINGS = int(os.environ.get("BENCH_ROW_BY_ROW_FINDINGS", "5000"))

SPEEDUP_TARGET = 10.0
INCREMENTAL_REQUESTS_TARGET = 3
MEMORY_TARGET_MB = 300.0
WRITING_RATE_TARGET = 5000.0  # findings/s on the database side, at SCALE


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(  # noqa: S603 (argv built here, no outside input)
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def _sandbox_server(env: dict[str, str]):
    return sandbox_server(env, "--workers", "2", "--timeout", "300")


def _scale_organization(
    env: dict[str, str], *, findings: int, repositories: int, events: int | None = None
) -> str:
    options = ["--repos", str(repositories), "--findings", str(findings)]
    if events:
        options += ["--events", str(events)]
    out = _manage(env, "sandbox_scale", *options)
    print(f"   {out.splitlines()[0]}", flush=True)
    return re.search(r"API key: (\S+)", out).group(1)


def _connections(
    env: dict[str, str], base_url: str, api_key: str, count: int, *, prefix: str
) -> list[int]:
    script = f"""
import django
django.setup()
from triage.models import KolegaConnection, Team
from sandbox.models import ApiKey
from sandbox.services.organizations import hash_key
organization = ApiKey.objects.get(key_hash=hash_key({api_key!r})).organization
ids = []
for n in range({count}):
    team = Team.objects.create(name=f"Bench {prefix} {{n}}", slug=f"bench-{prefix}-{{n}}")
    ids.append(KolegaConnection.objects.create(
        team=team, name="Scale", base_url={base_url!r}, api_key={api_key!r},
        organization_id=str(organization.id), scopes=["read"],
    ).pk)
print(ids)
"""
    result = subprocess.run(  # noqa: S603 (argv built here, no outside input)
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def _python(env: dict[str, str], script: str) -> str:
    result = subprocess.run(  # noqa: S603 (argv built here, no outside input)
        [sys.executable, "-c", "import django\ndjango.setup()\n" + script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def _notifications_on(env: dict[str, str], connection_id: int, receiver_url: str) -> None:
    """The connection's team sends new findings to a signed webhook on a local receiver, so
    the syncs measured record their summary in the outbox and queue its delivery."""
    _python(
        env,
        f"""
from triage.models import EventKind, KolegaConnection, NotificationChannel, NotificationRule
team = KolegaConnection.objects.get(pk={connection_id}).team
channel = NotificationChannel.objects.create(
    team=team, name="Hooks", kind=NotificationChannel.Kind.WEBHOOK, url={receiver_url!r},
    url_hint="127.0.0.1", secret="bench-signing-secret-0123456789",
)
NotificationRule.objects.create(team=team, channel=channel, event_kind=EventKind.FINDINGS_NEW)
print("ok")
""",
    )


def _notifications_told(env: dict[str, str]) -> dict:
    """The new-findings notifications the syncs recorded, and the findings they count."""
    return json.loads(
        _python(
            env,
            """
import json
from triage.models import Delivery, EventKind, Notification
told = Notification.objects.filter(event_kind=EventKind.FINDINGS_NEW)
print(json.dumps({
    "notifications": told.count(),
    "deliveries": Delivery.objects.filter(notification__in=told).count(),
    "findings": sum(n.data.get("total", 0) for n in told),
}))
""",
        )
    )


def _measure(env: dict[str, str], connection_id: int, mode: str) -> dict:
    result = subprocess.run(  # noqa: S603 (argv built here, no outside input)
        [sys.executable, "-m", "bench.sync_process", str(connection_id), mode],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{mode} sync process failed:\n{result.stderr[-3000:]}")
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    if measured["status"] != "succeeded":
        raise RuntimeError(f"{mode} sync did not succeed: {measured['error']}")
    print(
        f"   {mode}: {measured['seconds']:.1f}s, {measured['requests']} requests, "
        f"{measured['rows_written']} rows, {measured['peak_memory_mb']:.0f} MB",
        flush=True,
    )
    return measured


@benchmark("sync")
def sync_benchmark() -> list[Figure]:
    database_url = common.database_url("sync")
    # The sandbox answers on loopback over plain HTTP, which the outbound guard refuses in a
    # production-like environment unless the operator allows it, as here.
    env = common.environment(
        database_url,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PORTAL_OUTBOUND_ALLOW_HTTP="1",
        PORTAL_OUTBOUND_ALLOWED_NETWORKS="127.0.0.0/8",
    )
    if scale.active():
        # A million findings' first sync writes some seven million rows (events, batch links),
        # more than the default cap on one sync's rows: the operator of such an organization
        # raises it, as here.
        env["PORTAL_SYNC_MAX_ROWS"] = str(max(5_000_000, 12 * FINDINGS))
    print(f"   database: {urlsplit(database_url).scheme}", flush=True)
    _manage(env, "migrate", "--no-input")
    started = time.perf_counter()
    api_key = _scale_organization(env, findings=FINDINGS, repositories=REPOSITORIES, events=EVENTS)
    row_findings = min(ROW_BY_ROW_FINDINGS, FINDINGS)
    row_repositories = max(1, REPOSITORIES * row_findings // FINDINGS)
    row_api_key = _scale_organization(
        env,
        findings=row_findings,
        repositories=row_repositories,
        events=row_findings * scale.EVENTS_PER_FINDING if EVENTS else None,  # the same shape
    )
    print(f"   sandbox_scale: {time.perf_counter() - started:.0f}s", flush=True)
    with _sandbox_server(env) as base_url, local_receiver() as (receiver_url, _):
        (bulk_connection,) = _connections(env, base_url, api_key, 1, prefix="bulk")
        (row_connection,) = _connections(env, base_url, row_api_key, 1, prefix="row")
        _notifications_on(env, bulk_connection, receiver_url)
        full = _measure(env, bulk_connection, "full")
        incremental = _measure(env, bulk_connection, "incremental")
        row_by_row = _measure(env, row_connection, "row-by-row")
    told = _notifications_told(env)
    print(f"   notifications: {told}", flush=True)
    if full["findings"] != FINDINGS or row_by_row["findings"] != row_findings:
        raise RuntimeError(
            f"expected {FINDINGS} and {row_findings} findings mirrored, got "
            f"{full['findings']} (bulk) and {row_by_row['findings']} (row by row)"
        )
    bulk_rate = FINDINGS / full["seconds"]
    writing_rate = FINDINGS / full["writing_seconds"]
    row_rate = row_findings / row_by_row["seconds"]
    speedup = bulk_rate / row_rate
    return [
        Figure("full_sync_findings_per_second", round(bulk_rate, 1), "findings/s"),
        Figure("full_sync_findings", FINDINGS, "findings"),
        Figure("full_sync_seconds", round(full["seconds"], 2), "s"),
        Figure(
            "full_sync_database_findings_per_second",
            round(writing_rate, 1),
            "findings/s",
            *(
                (
                    f">= {WRITING_RATE_TARGET:,.0f} (pages written)",
                    writing_rate >= WRITING_RATE_TARGET,
                )
                if scale.active()
                else ()
            ),
        ),
        Figure("full_sync_writing_seconds", round(full["writing_seconds"], 2), "s"),
        Figure("full_sync_http_seconds", round(full["http_seconds"], 2), "s"),
        Figure("full_sync_slowest_request_seconds", round(full["slowest_request_seconds"], 3), "s"),
        Figure("full_sync_events", full["rows"].get("finding_events", 0), "events"),
        Figure("full_sync_api_requests", full["requests"], "requests"),
        Figure(
            "full_sync_peak_memory_mb",
            round(full["peak_memory_mb"], 1),
            "MB",
            f"< {MEMORY_TARGET_MB:g}",
            full["peak_memory_mb"] < MEMORY_TARGET_MB,
        ),
        Figure(
            "incremental_no_change_api_requests",
            incremental["requests"],
            "requests",
            f"<= {INCREMENTAL_REQUESTS_TARGET}",
            incremental["requests"] <= INCREMENTAL_REQUESTS_TARGET,
        ),
        Figure("incremental_no_change_seconds", round(incremental["seconds"], 3), "s"),
        Figure("full_sync_notifications_recorded", told["notifications"], "notifications"),
        Figure("full_sync_notified_new_findings", told["findings"], "findings"),
        Figure("row_by_row_full_sync_findings_per_second", round(row_rate, 1), "findings/s"),
        Figure("row_by_row_full_sync_findings", row_findings, "findings"),
        Figure("row_by_row_full_sync_seconds", round(row_by_row["seconds"], 2), "s"),
        Figure(
            "full_sync_speedup",
            round(speedup, 2),
            "x row-by-row",
            f">= {SPEEDUP_TARGET:g}",
            speedup >= SPEEDUP_TARGET,
        ),
    ]
