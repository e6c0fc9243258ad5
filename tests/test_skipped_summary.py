"""A run that skipped browser or worker tests says so, with the way to run them."""

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from tests.skipped_summary import skipped_by_kind, skipped_line

ROOT = Path(__file__).resolve().parents[1]


def report(*keywords, reason="Skipped: needs PostgreSQL and Redis"):
    return SimpleNamespace(keywords=dict.fromkeys(keywords, 1), longrepr=("t.py", 1, reason))


def test_skipped_tests_are_counted_by_what_they_lacked_and_explained():
    no_chromium = "Skipped: Chromium not found at /usr/bin/chromium"
    counts = skipped_by_kind(
        [
            report("browser", reason=no_chromium),
            report("browser", reason=no_chromium),
            # A browser test that also needs a worker lacked PostgreSQL, not Chromium.
            report("browser"),
            report("worker"),
            report("slow"),
        ]
    )
    assert counts == {"browser": 2, "worker": 2}
    line = skipped_line(counts)
    assert line.startswith(
        "Skipped 4 browser and worker tests (2 for want of Chromium, "
        "2 for want of PostgreSQL and Redis):"
    )
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
    assert last_lines[-1].startswith("Skipped 1 browser and worker test (1 for want of Chromium)")
    assert "apt-get install chromium" in last_lines[-1]
