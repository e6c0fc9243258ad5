"""A real worker process keeps the key redaction on the log records of its tasks."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import _database_url_for_test_db

ROOT = Path(__file__).resolve().parents[2]
KEY = "kcp_live_W0rkerMustRedactThis123456"


@pytest.fixture
def worker_log(transactional_db, tmp_path):
    """A worker like ``celery_worker_process``'s, with its log written to a file."""
    from django.db import connection

    from portal.celery import app

    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        pytest.skip("needs PostgreSQL and Redis (DATABASE_URL and REDIS_URL)")
    app.control.purge()
    hostname = f"test-logging-worker-{os.getpid()}"
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url_for_test_db(),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_CONN_MAX_AGE": "0",
    }
    command = [
        *(sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool", "solo"),
        *("--concurrency", "1", "--loglevel", "INFO", "--without-gossip", "--without-mingle"),
        *("--hostname", f"{hostname}@%h", "--include", "tests.portal.worker_logging_tasks"),
    ]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            env=env,
            cwd=ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, log_path.read_text()
            replies = app.control.ping(timeout=0.5)
            if any(name.startswith(f"{hostname}@") for r in replies for name in r):
                break
        else:
            raise RuntimeError("the Celery worker did not start within 30 s")
        yield log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        app.control.purge()


@pytest.mark.worker
@pytest.mark.slow
def test_a_key_logged_in_a_task_is_redacted_in_the_workers_log(worker_log):
    from tests.portal.worker_logging_tasks import log_text

    log_text.delay(KEY)
    deadline = time.monotonic() + 30
    while "logged-text-done" not in worker_log.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    output = worker_log.read_text()

    assert "logged-text-done" in output, output
    assert "Kolega refused the key kcp_[redacted]" in output
    assert "Bearer [redacted]" in output
    assert "printed kcp_[redacted]" in output
    assert "W0rkerMustRedactThis" not in output
