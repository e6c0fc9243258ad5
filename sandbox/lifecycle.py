"""Time-derived life cycles of scan batches and fixes.

Nothing runs in the background. A batch or a fix stores when it was asked for; its state
at any instant is a pure function of that time and ``sandbox.clock.now()``. What must not
change once observed (findings, events, diffs) is written the first time the object is
read after the moment it happened ("materialized"), exactly once, under a row lock.
Timestamps written then are the nominal ones (when it happened), not the reading time.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from sandbox import clock
from sandbox.models import Fix, ScanBatch, ScanRun, ScanType

# Nominal schedule of a batch, in seconds at SANDBOX_TIME_SCALE = 1.
QUEUED_UNTIL = 2.0
CREATING_UNTIL = 4.0
SCANNING_UNTIL = 14.0
ASSESSING_UNTIL = 20.0
# Deep AI scans read every file with a model: slower.
DEEP_AI_SLOWDOWN = 3.0

# Nominal schedule of a fix.
FIX_PENDING_SECONDS = 3.0
FIX_RUN_SECONDS = 20.0
REFINE_RUN_SECONDS = 15.0
FIX_STEP_SECONDS = 2.0

TERMINAL_BATCH_STATUSES = frozenset({"completed", "partial_failure", "failed"})


def time_scale() -> float:
    """Seconds of real time per nominal second (0 makes every life cycle instant)."""
    return max(0.0, float(getattr(settings, "SANDBOX_TIME_SCALE", 1.0)))


def _nominal_elapsed(since: datetime, scale: float, at: datetime) -> float:
    real = (at - since).total_seconds()
    if scale <= 0:
        return math.inf
    return real / scale


def _at(since: datetime, scale: float, nominal_seconds: float) -> datetime:
    return since + timedelta(seconds=nominal_seconds * scale)


@dataclass(frozen=True)
class RunState:
    run: ScanRun
    status: str
    status_reason: str | None
    started_at: datetime | None
    completed_at: datetime | None


@dataclass(frozen=True)
class BatchState:
    status: str
    percent_complete: float
    scans_created: int
    scans_failed: int
    scans_completed: int
    scans_assessed: int
    started_at: datetime | None
    completed_at: datetime | None
    error_message: str | None
    runs: list[RunState]
    placeholder_runs: bool

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_BATCH_STATUSES


def _batch_slowdown(batch: ScanBatch) -> float:
    return batch.time_scale * (DEEP_AI_SLOWDOWN if batch.scan_type == ScanType.DEEP_AI else 1.0)


def _run_window(position: int, total: int) -> tuple[float, float]:
    # Runs start staggered across the first half of the scanning phase and take half of it.
    window = SCANNING_UNTIL - CREATING_UNTIL
    start = CREATING_UNTIL + position * window / (2 * max(total, 1))
    return start, start + window / 2


def batch_end_nominal(runs: list[ScanRun]) -> float:
    """When a batch ends: a batch where every scan failed skips the assessment."""
    if runs and all(run.will_fail for run in runs):
        return SCANNING_UNTIL
    return ASSESSING_UNTIL


def batch_completed_at(batch: ScanBatch, runs: list[ScanRun]) -> datetime:
    return _at(batch.created_at, _batch_slowdown(batch), batch_end_nominal(runs))


def batch_state(batch: ScanBatch, runs: list[ScanRun], at: datetime | None = None) -> BatchState:
    at = at or clock.now()
    scale = _batch_slowdown(batch)
    t = _nominal_elapsed(batch.created_at, scale, at)
    total = len(runs)
    end = batch_end_nominal(runs)

    run_states = []
    for run in runs:
        start, finish = _run_window(run.position, total)
        if t < max(start, CREATING_UNTIL):
            run_states.append(RunState(run, "pending", None, None, None))
        elif t < finish:
            run_states.append(
                RunState(run, "running", None, _at(batch.created_at, scale, start), None)
            )
        else:
            run_states.append(
                RunState(
                    run,
                    "failed" if run.will_fail else "succeeded",
                    "Repository clone failed: remote rejected the credentials"
                    if run.will_fail
                    else None,
                    _at(batch.created_at, scale, start),
                    _at(batch.created_at, scale, finish),
                )
            )
    failed = sum(1 for state in run_states if state.status == "failed")
    succeeded = sum(1 for state in run_states if state.status == "succeeded")

    started_at = _at(batch.created_at, scale, QUEUED_UNTIL) if t >= QUEUED_UNTIL else None
    error_message = None
    if t < QUEUED_UNTIL:
        status, percent, created = "queued", 0.0, 0
    elif t < CREATING_UNTIL:
        progress = (t - QUEUED_UNTIL) / (CREATING_UNTIL - QUEUED_UNTIL)
        status, percent, created = "creating_scans", 5.0 * progress, int(total * progress)
    elif t < SCANNING_UNTIL:
        progress = (t - CREATING_UNTIL) / (SCANNING_UNTIL - CREATING_UNTIL)
        status, percent, created = "scanning", 5.0 + 75.0 * progress, total
    elif t < end:
        progress = (t - SCANNING_UNTIL) / (ASSESSING_UNTIL - SCANNING_UNTIL)
        status, percent, created = "assessing", 80.0 + 19.0 * progress, total
    else:
        created, percent = total, 100.0
        if total and failed == total:
            status, error_message = "failed", "Every repository scan failed"
        elif failed:
            status = "partial_failure"
            error_message = f"{failed} of {total} repository scans failed"
        else:
            status = "completed"

    assessed = 0
    if status == "assessing":
        progress = (t - SCANNING_UNTIL) / (ASSESSING_UNTIL - SCANNING_UNTIL)
        assessed = int(succeeded * progress)
    elif status in TERMINAL_BATCH_STATUSES:
        assessed = succeeded

    return BatchState(
        status=status,
        percent_complete=round(percent, 1),
        scans_created=created,
        scans_failed=failed,
        scans_completed=succeeded,
        scans_assessed=assessed,
        started_at=started_at,
        completed_at=_at(batch.created_at, scale, end) if t >= end else None,
        error_message=error_message,
        runs=run_states,
        placeholder_runs=status in ("queued", "creating_scans"),
    )


@dataclass(frozen=True)
class FixState:
    status: str
    started_at: datetime | None
    completed_at: datetime | None
    duration_seconds: float | None
    agent_steps_completed: int
    latest_activity_at: datetime | None
    error_message: str | None
    run_finished: bool


def fix_run_start(fix: Fix) -> datetime:
    pending = FIX_PENDING_SECONDS if fix.run_number == 0 else 0.0
    return _at(fix.run_requested_at, fix.time_scale, pending)


def fix_run_end(fix: Fix) -> datetime:
    length = FIX_RUN_SECONDS if fix.run_number == 0 else REFINE_RUN_SECONDS
    return fix_run_start(fix) + timedelta(seconds=length * fix.time_scale)


def _steps(fix: Fix, until: datetime) -> int:
    if fix.time_scale <= 0:
        length = FIX_RUN_SECONDS if fix.run_number == 0 else REFINE_RUN_SECONDS
        return int(length / FIX_STEP_SECONDS)
    running = (until - fix_run_start(fix)).total_seconds() / fix.time_scale
    return max(0, int(running / FIX_STEP_SECONDS))


def fix_state(fix: Fix, at: datetime | None = None) -> FixState:
    at = at or clock.now()
    start = fix_run_start(fix)
    end = fix_run_end(fix)
    if fix.final_status:
        finished_at = fix.completed_at or end
        started = fix.started_at
        steps = _steps(fix, min(finished_at, end)) if started else 0
        return FixState(
            status=fix.final_status,
            started_at=started,
            completed_at=finished_at,
            duration_seconds=(finished_at - started).total_seconds() if started else None,
            agent_steps_completed=steps,
            latest_activity_at=finished_at,
            error_message=fix.error_message,
            run_finished=True,
        )
    if at < start:
        return FixState("pending", None, None, None, 0, None, None, False)
    if at < end:
        steps = _steps(fix, at)
        latest = start + timedelta(seconds=steps * FIX_STEP_SECONDS * fix.time_scale)
        return FixState(
            status="running",
            started_at=start,
            completed_at=None,
            duration_seconds=(at - start).total_seconds(),
            agent_steps_completed=steps,
            latest_activity_at=latest,
            error_message=None,
            run_finished=False,
        )
    # The run is over but its outcome has not been written yet: the caller materializes it.
    return FixState(
        status="running",
        started_at=start,
        completed_at=None,
        duration_seconds=(end - start).total_seconds(),
        agent_steps_completed=_steps(fix, end),
        latest_activity_at=end,
        error_message=None,
        run_finished=True,
    )
