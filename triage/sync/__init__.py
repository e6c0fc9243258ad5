"""Keeping the mirror equal to Kolega: full, incremental and reconciling syncs, and tracking.

Entry points for tasks, commands and services:
`sync_connection_full`, `sync_connection_incremental` and `sync_connection_reconcile` (each
answers the recorded SyncRun), `scan_batch_track_step` and `fix_track_step` (one poll of an
active scan batch or fix).
"""

from triage.sync.full import sync_connection_full
from triage.sync.incremental import sync_connection_incremental
from triage.sync.reconcile import sync_connection_reconcile

__all__ = [
    "sync_connection_full",
    "sync_connection_incremental",
    "sync_connection_reconcile",
]
