"""The load test's own measures, computed from what the users and the server recorded.

Pure functions on plain data (no locust, no Django), so that they are tested on their own:

- **served %**: the requests the users completed in the measured window against the requests
  their schedule asked for in it. Each user keeps a schedule (see loadtest/locustfile.py): a
  clock that moves only by the user's own pauses (think time between tasks, reading a page
  before the next, the 2 s between polls), never by the server's answers. Each request is
  asked for at the schedule's time when the user sends it; a user behind its schedule pauses
  less to catch up. A request is *asked for* in the window when its scheduled time falls in
  it, and *served* when it was answered without error before the window closed. A user still
  behind its schedule when the window closes had more requests due that it never sent: they
  count as asked for, at that user's own rate (its requests per second of schedule).
- **server CPU per request**: the CPU time the server's thread spent on each request
  (loadtest/server_cpu.py writes one line per request), in the measured window, as p50 and
  p95 per endpoint (keyed as the client names it) and per route (the URL's route name).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

# One line per request, tab-separated: wall-clock time at the end of the request (s), the
# thread's CPU time (ms), the method, the route name, the client's name for the request.
CPU_FIELDS = 5


@dataclass
class UserSchedule:
    """One user's schedule and the requests it sent (times in seconds, one clock for all)."""

    started: float  # the schedule's first point: when the user had signed in
    clock: float  # the schedule's time now: when the user's next request is due
    # Each answered request: (scheduled at, answered at, answered without error). A request
    # still waiting for its answer is not here; the schedule's clock stays at its time.
    requests: list[tuple[float, float, bool]] = field(default_factory=list)

    def pause(self, seconds: float, now: float) -> float:
        """Move the schedule on by ``seconds`` of the user's own pause; the seconds to sleep
        until it is due (none when the user is behind)."""
        self.clock += seconds
        return max(0.0, self.clock - now)


def served(schedules: Iterable[UserSchedule], start: float, end: float) -> dict:
    """Requests asked for and served in the window [start, end) of every user's schedule."""
    asked = answered = due_unsent = 0.0
    for schedule in schedules:
        in_window = [request for request in schedule.requests if start <= request[0] < end]
        asked += len(in_window)
        answered += sum(1 for _, done, ok in in_window if ok and done < end)
        behind = end - max(schedule.clock, start)
        if behind > 0:
            # The requests due in the part of the window the user never reached (the one it
            # may be waiting on included), at its own pace so far.
            span = schedule.clock - schedule.started
            if span > 0 and schedule.requests:
                due_unsent += behind * len(schedule.requests) / span
    asked_total = asked + due_unsent
    return {
        "asked_for": round(asked_total, 1),
        "served": int(answered),
        "due_but_not_sent": round(due_unsent, 1),
        "served_percent": round(100 * answered / asked_total, 2) if asked_total else 0.0,
    }


@dataclass(frozen=True)
class CpuRecord:
    at: float  # wall-clock time the request ended (s)
    cpu_ms: float
    method: str
    route: str
    label: str  # the client's name for the request ("" when it gave none)


def cpu_records_parse(lines: Iterable[str]) -> list[CpuRecord]:
    """The records of the server's files; a line cut short (the server stopped while writing
    it) is left out."""
    records = []
    for line in lines:
        parts = line.rstrip("\n").split("\t")
        if len(parts) != CPU_FIELDS:
            continue
        try:
            at, cpu_ms = float(parts[0]), float(parts[1])
        except ValueError:
            continue
        records.append(CpuRecord(at, cpu_ms, parts[2], parts[3], parts[4]))
    return records


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (which must not be empty)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def _summary(values: list[float]) -> dict:
    return {
        "requests": len(values),
        "p50_ms": round(percentile(values, 0.50), 2),
        "p95_ms": round(percentile(values, 0.95), 2),
        "mean_ms": round(sum(values) / len(values), 2),
        "total_seconds": round(sum(values) / 1000, 3),
    }


def cpu_summary(records: Iterable[CpuRecord], start: float, end: float) -> dict:
    """The server's CPU per request in the window, by endpoint ("METHOD name", as the load
    test's statistics name it) and in total over them, and by route, the requests no user
    named included (the sandbox's, which the same server answers for the portal's calls)."""
    by_endpoint: dict[str, list[float]] = defaultdict(list)
    by_route: dict[str, list[float]] = defaultdict(list)
    every: list[float] = []
    for record in records:
        if not start <= record.at < end:
            continue
        by_route[record.route].append(record.cpu_ms)
        if record.label:
            every.append(record.cpu_ms)
            by_endpoint[f"{record.method} {record.label}"].append(record.cpu_ms)
    return {
        "total": _summary(every) if every else None,
        "endpoints": {name: _summary(values) for name, values in sorted(by_endpoint.items())},
        "routes": {name: _summary(values) for name, values in sorted(by_route.items())},
    }
