"""A run that skipped browser or worker tests says so, with the way to run them."""

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from tests.skipped_summary import skipped_by_kind, skipped_line

ROOT = Path(__file__).resolve().parents[1]


def report(*keywords):
    return SimpleNamespace(keywords=dict.fromkeys(keywords, 1))


def test_skipped_browser_and_worker_tests_are_counted_and_explained():
    counts = skipped_by_kind(
        [report("browser"), report("browser"), report("worker"), report("slow")]
    )
    assert counts == {"browser": 2, "worker": 1}
    line = skipped_line(counts)
    assert line.startswith("Skipped 2 browser tests and 1 worker test:")
    assert "apt-get install chromium" in line and "REDIS_URL=" in line


def test_a_run_that_skipped_neither_says_nothing():
    assert skipped_by_kind([report("slow")]) == {}


def test_the_line_ends_a_real_run(tmp_path):
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["tests.skipped_summary"]\n')
    (tmp_path / "test_page.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.browser\n"
        "def test_page():\n"
        "    pytest.skip('Chromium not found')\n\n"
        "def test_plain():\n"
        "    pass\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:django", "-p", "no:cacheprovider", "-q"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    last_lines = run.stdout.strip().splitlines()[-2:]
    assert last_lines[-1].startswith("Skipped 1 browser test: ")
    assert "apt-get install chromium" in last_lines[-1]
