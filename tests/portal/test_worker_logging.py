"""A real worker process keeps the key redaction on the log records of its tasks."""

import os
import time

import pytest

from tests.conftest import celery_worker_running

KEY = "kcp_live_W0rkerMustRedactThis123456"


@pytest.fixture
def worker_log(transactional_db, tmp_path):
    """A worker like ``celery_worker_process``'s, with its log written to a file."""
    log_path = tmp_path / "worker.log"
    include = ("--include", "tests.portal.worker_logging_tasks")
    hostname = f"test-logging-worker-{os.getpid()}"
    with log_path.open("wb") as log_file:
        try:
            running = celery_worker_running(*include, hostname=hostname, stdout=log_file)
            with running:
                yield log_path
        except RuntimeError as error:
            raise RuntimeError(f"{error}:\n{log_path.read_text()}") from error


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
