"""The load test at CI size: `python -m loadtest.run --short` end to end.

It starts gunicorn and a Celery worker on a database and a Redis database of its own, signs
users in, browses and runs bulk status changes against the sandbox, then stops everything.
Latency on a shared CI machine is not asserted; errors are: there must be none. The database
is named after DATABASE_URL's (`<name>_loadtest_short`); LOADTEST_REDIS_DB picks the Redis
database if the default (15) is someone else's.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379"

pytestmark = pytest.mark.slow


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def load_database_url() -> str:
    if urlsplit(DATABASE_URL).scheme not in ("postgres", "postgresql"):
        pytest.skip("the load test runs on PostgreSQL (DATABASE_URL)")
    if not _reachable(DATABASE_URL, 5432) or not _reachable(REDIS_URL, 6379):
        pytest.skip("the load test needs the PostgreSQL server and Redis")
    # A database of its own, so that nothing of another test's is dropped.
    parts = urlsplit(DATABASE_URL)
    name = parts.path.lstrip("/") or "portal"
    return urlunsplit(parts._replace(path=f"/{name}_loadtest_short"))


def test_short_load_run_makes_requests_without_errors(load_database_url, tmp_path):
    results_file = tmp_path / "results.json"
    env = {**os.environ, "DATABASE_URL": load_database_url, "REDIS_URL": REDIS_URL}
    args = [sys.executable, "-m", "loadtest.run", "--short", "--results", str(results_file)]
    if os.environ.get("LOADTEST_REDIS_DB"):
        args += ["--redis-db", os.environ["LOADTEST_REDIS_DB"]]
    completed = subprocess.run(
        args,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-6000:]
    results = json.loads(results_file.read_text())

    assert results["errors"] == 0, results["failures"] + results["exceptions"]
    assert results["signed_in"] == results["browsing_users"] + results["bulk_users"]
    assert results["findings"] == 5_000
    assert results["total"]["requests"] > 0
    assert results["total"]["requests_per_second"] > 0
    assert {"p50_ms", "p95_ms", "p99_ms"} <= set(results["total"])
    # Warm-up included: on a busy machine the measured window alone may be short of a job.
    made = results["requests_whole_run"]
    for name in ("GET dashboard", "GET findings", "POST bulk: start job"):
        assert made.get(name, 0) > 0, (name, made)
    # The bulk changes reached the sandbox: no item failed, and every finding the portal
    # counts as changed holds its new status in the sandbox.
    jobs = results["bulk_jobs"]
    assert jobs["jobs"] > 0
    assert jobs["failed"] == 0
    assert jobs["changed_but_not_in_sandbox"] == 0
    assert jobs["changed"] + jobs["unchanged"] + jobs["pending"] == jobs["items"]
    # The server measured its own CPU per request, under the names the clients gave.
    findings = results["endpoints"]["GET findings"]
    assert findings["server_cpu"]["requests"] > 0
    assert 0 < findings["server_cpu"]["p50_ms"] <= findings["server_cpu"]["p95_ms"]
    assert results["server_cpu"]["routes"]["findings"]["requests"] > 0
    # The users' schedules asked for requests in the window, and most were served.
    assert results["served"]["asked_for"] > 0
    assert 0 < results["served"]["served_percent"] <= 100
    assert "cpu p50" in output and "served:" in output
    # The machine's CPU in the window, by kind of process: the web server worked in it.
    machine = results["machine_cpu"]
    assert machine["by_group"]["web (gunicorn)"] > 0
    assert 0 < machine["busy_cores"] <= machine["cores"]
    assert "machine CPU in the measured window" in output
    # Every process the run started has stopped.
    assert "stopped gunicorn" in output and "stopped worker" in output
