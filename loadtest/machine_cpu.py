"""Where the machine's CPU went during the load test's measured window, by kind of process:
the web server, PostgreSQL, the Celery worker, the load generator, Redis and the rest.

The per-request CPU of `server_cpu.py` says what each page costs in the web process; this
says what the whole machine spent, PostgreSQL's backends included, which no request's own
clock sees. Linux only: the processes' times are read from /proc once a second by a thread
of the running `make loadtest`; elsewhere nothing is sampled and the report leaves it out.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

PROC = Path("/proc")
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

# The kinds, in the order the report lists them; a process is the first whose test matches.
GROUPS = (
    ("web (gunicorn)", lambda command: "gunicorn" in command),
    ("PostgreSQL", lambda command: command.startswith("postgres") or "/bin/postgres" in command),
    ("Celery worker", lambda command: "celery" in command),
    ("load generator", lambda command: "loadtest.swarm" in command or "locust" in command),
    ("Redis", lambda command: "redis-server" in command),
)
OTHER = "other"


def group_of(command: str) -> str:
    """The kind of process a command line is."""
    for name, matches in GROUPS:
        if matches(command):
            return name
    return OTHER


@dataclass
class Sample:
    """One reading: when, the machine's busy and total ticks, and each process's CPU ticks
    (user and system, its own, not its children's) with its kind."""

    at: float
    busy: int
    total: int
    processes: dict[int, tuple[int, str]] = field(default_factory=dict)


def _machine_ticks() -> tuple[int, int]:
    fields = (PROC / "stat").read_text().splitlines()[0].split()[1:]
    values = [int(value) for value in fields]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle and iowait
    return sum(values) - idle, sum(values)


def _process_ticks(pid_dir: Path) -> tuple[int, str] | None:
    try:
        stat = (pid_dir / "stat").read_text()
        command = (pid_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:  # gone between listing and reading
        return None
    # The command name in parentheses may hold spaces: the fields start after its last ")".
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12]), command.strip()


def sample() -> Sample:
    """The machine's and every process's CPU ticks now."""
    busy, total = _machine_ticks()
    processes = {}
    for pid_dir in PROC.iterdir():
        if pid_dir.name.isdigit():
            read = _process_ticks(pid_dir)
            if read is not None:
                processes[int(pid_dir.name)] = (read[0], group_of(read[1]))
    return Sample(time.time(), busy, total, processes)


def cpu_by_group(samples: list[Sample], start: float, end: float) -> dict | None:
    """Cores used on average by each kind of process between `start` and `end` (epoch
    seconds), from the samples taken in that window; None with fewer than two. A process
    counts between two samples that both saw it (one that starts and ends between two
    samples is missed: the load test's processes live for the whole window)."""
    inside = [reading for reading in samples if start <= reading.at <= end]
    if len(inside) < 2:
        return None
    seconds = inside[-1].at - inside[0].at
    ticks: dict[str, int] = {}
    for before, after in pairwise(inside):
        for pid, (used, group) in after.processes.items():
            earlier = before.processes.get(pid)
            if earlier is not None and used >= earlier[0]:
                ticks[group] = ticks.get(group, 0) + used - earlier[0]
    cores = {
        name: round(ticks.get(name, 0) / TICKS_PER_SECOND / seconds, 2)
        for name in [*(name for name, _ in GROUPS), OTHER]
    }
    first, last = inside[0], inside[-1]
    share = (last.busy - first.busy) / max(1, last.total - first.total)
    return {
        "seconds": round(seconds, 1),
        "cores": os.cpu_count(),
        "busy_cores": round(share * (os.cpu_count() or 1), 2),
        "by_group": cores,
    }


class Sampler:
    """Samples every `interval` seconds in a thread between `start()` and `stop()`."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def available() -> bool:
        return (PROC / "stat").exists()

    def start(self) -> Sampler:
        if self.available():
            self._thread = threading.Thread(target=self._run, name="machine-cpu", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while True:
            self.samples.append(sample())
            if self._stop.wait(self.interval):
                self.samples.append(sample())
                return

    def stop(self) -> list[Sample]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        return self.samples


def report_lines(summary: dict | None) -> list[str]:
    """The report's lines for `cpu_by_group`'s answer (none without one)."""
    if not summary:
        return []
    lines = [
        "",
        f"machine CPU in the measured window ({summary['seconds']:g} s sampled; "
        f"{summary['busy_cores']:.2f} of {summary['cores']} cores busy)",
    ]
    for name, cores in sorted(summary["by_group"].items(), key=lambda item: -item[1]):
        lines.append(f"  {name:44} {cores:>5.2f} cores")
    return lines
