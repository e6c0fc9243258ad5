"""`make run` keeps its three processes up: bin/supervise.sh starts again a command that exits,
saying so, and stops it when it is stopped itself."""

import os
import signal
import subprocess
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _supervise(tmp_path: Path, command: str) -> subprocess.Popen:
    return subprocess.Popen(
        ["bash", "-c", f'set -euo pipefail; . bin/supervise.sh; supervise demo sh -c "{command}"'],
        cwd=str(REPO_ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(predicate, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purpose.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_a_command_that_exits_is_started_again_with_a_line_saying_so(tmp_path):
    starts = tmp_path / "starts"
    supervisor = _supervise(tmp_path, f"echo started >> {starts}; exit 3")
    try:
        _wait_for(lambda: starts.exists() and len(starts.read_text().splitlines()) >= 3, 15)
    finally:
        supervisor.send_signal(signal.SIGTERM)
        _, stderr = supervisor.communicate(timeout=10)
    assert "run-dev: demo exited (status 3); starting it again in 1 s" in stderr
    assert "starting it again in 2 s" in stderr  # backing off
    assert supervisor.returncode == 0


def test_stopping_the_supervisor_stops_the_command_and_does_not_restart_it(tmp_path):
    pid_file = tmp_path / "pid"
    supervisor = _supervise(tmp_path, f"echo \\$\\$ > {pid_file}; exec sleep 300")
    _wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), 10)
    child = int(pid_file.read_text())
    assert _alive(child)

    supervisor.send_signal(signal.SIGTERM)
    _, stderr = supervisor.communicate(timeout=10)

    assert supervisor.returncode == 0
    _wait_for(lambda: not _alive(child), 5)
    time.sleep(1.5)  # longer than the first backoff: nothing was started again
    assert int(pid_file.read_text()) == child
    assert "starting it again" not in stderr
