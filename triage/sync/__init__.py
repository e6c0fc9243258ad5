"""Keeping the mirror equal to Kolega: full, incremental and reconciling syncs, and tracking.

Entry points for tasks, commands and services:
`sync_connection_full`, `sync_connection_incremental` and `sync_connection_reconcile` (each
answers the recorded SyncRun), `scan_batch_mirror` and `fix_mirror` (store what a write to
Kolega answered), `scan_batch_track_step` and `fix_track_step` (one poll of an active scan
batch or fix; the `track_scan_batch` and `track_fix` tasks chain them).
"""

from triage.sync.full import sync_connection_full
from triage.sync.incremental import sync_connection_incremental
from triage.sync.reconcile import sync_connection_reconcile
from triage.sync.tracking import (
    TrackingStopped,
    fix_mirror,
    fix_track_step,
    scan_batch_mirror,
    scan_batch_track_step,
)

__all__ = [
    "TrackingStopped",
    "fix_mirror",
    "fix_track_step",
    "scan_batch_mirror",
    "scan_batch_track_step",
    "sync_connection_full",
    "sync_connection_incremental",
    "sync_connection_reconcile",
]
