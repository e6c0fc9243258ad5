"""One run of the load scenario with locust's library, measured after every user signed in.

`python -m loadtest.swarm --host URL --users N --bulk-users K --duration S --out FILE`

Users are started, and each signs in once (the login form's password hash is deliberately
expensive); once all have, the statistics are reset and the measured window of ``--duration``
seconds begins. The window's ends are written as wall-clock times too, so that the server's
own records (its CPU per request) are taken from the same window; "served" compares the
requests answered in it with those the users' schedules asked for (loadtest/measures.py).
Sign-in figures are kept from before the reset and reported on their own
lines; errors of both phases count. Writes the figures as JSON to ``--out``. Run in its own
process: locust patches the standard library for gevent on import.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from locust.env import Environment
from locust.stats import StatsEntry

from loadtest import locustfile
from loadtest.measures import served

SIGN_IN_PREFIX = "sign in:"
PERCENTILES = {"p50_ms": 0.50, "p95_ms": 0.95, "p99_ms": 0.99}


def _figures(entry: StatsEntry, seconds: float) -> dict:
    figures = {
        "requests": entry.num_requests,
        "errors": entry.num_failures,
        "requests_per_second": round(entry.num_requests / seconds, 2) if seconds else 0.0,
        "mean_ms": round(entry.avg_response_time, 1),
        "max_ms": round(entry.max_response_time or 0, 1),
    }
    for name, fraction in PERCENTILES.items():
        figures[name] = entry.get_response_time_percentile(fraction) if entry.num_requests else 0
    return figures


def _combined(stats, entries: list[StatsEntry]) -> StatsEntry:
    total = StatsEntry(stats, "Total", "", use_response_times_cache=False)
    for entry in entries:
        total.extend(entry)
    return total


def run(*, host: str, users: int, bulk_users: int, duration: float, spawn_rate: float) -> dict:
    locustfile.BulkUser.fixed_count = bulk_users
    user_classes = [locustfile.BulkUser]
    if users:
        user_classes.append(locustfile.BrowsingUser)
    environment = Environment(user_classes=user_classes, host=host, stop_timeout=5)
    environment.events.request.add_listener(locustfile.record_request)
    runner = environment.create_local_runner()
    total_users = users + bulk_users
    started = time.monotonic()
    runner.start(total_users, spawn_rate=spawn_rate)
    # Signing in costs a deliberately slow password hash per user: wait for all of them.
    sign_in_deadline = started + 120 + total_users * 4
    while locustfile.signed_in < total_users and time.monotonic() < sign_in_deadline:
        if runner.stats.total.num_failures and not runner.user_count:
            break
        time.sleep(0.2)
    sign_in_seconds = time.monotonic() - started
    warm_up = {
        f"{entry.method} {entry.name}": _figures(entry, sign_in_seconds)
        for entry in runner.stats.entries.values()
    }
    warm_up_errors = runner.stats.total.num_failures
    warm_up_requests = {
        f"{entry.method} {entry.name}": entry.num_requests
        for entry in runner.stats.entries.values()
    }
    warm_up_failures = [error.to_dict() for error in runner.stats.errors.values()]
    runner.stats.reset_all()
    measured_from, measured_from_epoch = time.monotonic(), time.time()
    time.sleep(duration)
    measured_to, measured_to_epoch = time.monotonic(), time.time()
    seconds = measured_to - measured_from
    # Counted as the window closes: an answer arriving later is not served in it.
    served_figures = served(locustfile.schedules, measured_from, measured_to)
    entries = list(runner.stats.entries.values())
    failures = [error.to_dict() for error in runner.stats.errors.values()]
    exceptions = [
        {"count": e["count"], "msg": e["msg"], "nodes": sorted(e["nodes"])}
        for e in runner.exceptions.values()
    ]
    runner.quit()

    http_entries = [entry for entry in entries if entry.method != "JOB"]
    endpoints = {
        f"{entry.method} {entry.name}": _figures(entry, seconds)
        for entry in sorted(entries, key=lambda e: (e.method == "JOB", e.name))
    }
    sign_in = {key: value for key, value in warm_up.items() if SIGN_IN_PREFIX in key}
    requests_whole_run = dict(warm_up_requests)
    for name, figures in endpoints.items():
        requests_whole_run[name] = requests_whole_run.get(name, 0) + figures["requests"]
    total = _figures(_combined(runner.stats, http_entries), seconds)
    job_errors = sum(entry.num_failures for entry in entries if entry.method == "JOB")
    return {
        "host": host,
        "browsing_users": users,
        "bulk_users": bulk_users,
        "signed_in": locustfile.signed_in,
        "sign_in_seconds": round(sign_in_seconds, 1),
        "sign_in": sign_in,
        "sign_in_errors": warm_up_errors,
        "duration_seconds": round(seconds, 1),
        "window_epoch": [measured_from_epoch, measured_to_epoch],
        "served": served_figures,
        "total": total,
        "endpoints": endpoints,
        # Requests per endpoint from the first sign-in on, warm-up included.
        "requests_whole_run": requests_whole_run,
        # Every failure counts: HTTP answers, jobs with failed items, users that could not
        # sign in, and exceptions raised in the scenario itself.
        "errors": total["errors"]
        + job_errors
        + warm_up_errors
        + (total_users - locustfile.signed_in)
        + sum(e["count"] for e in exceptions),
        "failures": warm_up_failures + failures,
        "exceptions": exceptions,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtest.swarm")
    parser.add_argument("--host", required=True)
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--bulk-users", type=int, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--spawn-rate", type=float, default=10.0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    results = run(
        host=args.host,
        users=args.users,
        bulk_users=args.bulk_users,
        duration=args.duration,
        spawn_rate=args.spawn_rate,
    )
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
