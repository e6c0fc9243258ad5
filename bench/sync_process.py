"""One measured sync, run in its own process so its peak memory is its own.

`python -m bench.sync_process <connection-id> full|incremental|row-by-row` prints one JSON
object: seconds, API requests, rows written, findings mirrored and peak resident memory, with
the seconds spent writing pages (each page's transaction: the database side of the sync),
those spent in HTTP exchanges with the sandbox and the slowest exchange (a page deep in a
listing costing more than the first would show there).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from contextlib import contextmanager


def _row_by_row() -> None:
    """Swap the bulk writers for `update_or_create` per row: the same sync, the slow way."""
    from triage.models import FindingEvent, ScanBatchFinding
    from triage.sync import rows

    def upsert(model, connection, row_objects, update_fields):
        pks = {}
        for row in row_objects:
            names = [*update_fields, "synced_at"]
            defaults = {
                model._meta.get_field(name).attname: getattr(
                    row, model._meta.get_field(name).attname
                )
                for name in names
            }
            defaults["team_id"] = connection.team_id
            obj, _ = model.objects.update_or_create(
                connection_id=connection.pk, upstream_id=row.upstream_id, defaults=defaults
            )
            pks[row.upstream_id] = obj.pk
        return rows.Written(pks=pks, rows=len(row_objects))

    def events_write(*, connection, events, pruned_before):
        for event in events:
            FindingEvent.objects.update_or_create(
                connection_id=connection.pk,
                upstream_id=event.id,
                defaults={
                    "team_id": connection.team_id,
                    "synced_at": rows.timezone.now(),
                    "organization_id": event.organization_id,
                    "repository_upstream_id": event.repository_id,
                    "finding_upstream_id": event.finding_id,
                    "scan_id": event.scan_id,
                    "scan_type": event.scan_type,
                    "event_type": event.event_type,
                    "previous_status": event.previous_status,
                    "new_status": event.new_status,
                    "severity": event.severity,
                    "check_id": event.check_id,
                    "file_path": event.file_path,
                    "actor_user_id": event.actor_user_id,
                    "metadata": dict(event.metadata),
                    "event_timestamp": event.event_timestamp,
                    "created_at": event.created_at,
                },
            )
        return len(events)

    def link(*, scan_batch_pk, finding_pks):
        count = 0
        for pk in finding_pks:
            ScanBatchFinding.objects.get_or_create(scan_batch_id=scan_batch_pk, finding_id=pk)
            count += 1
        return count

    rows._upsert = upsert
    rows.finding_events_write = events_write
    rows.scan_batch_findings_link = link


def _timed() -> dict:
    """Sum the time of every page written and of every HTTP exchange (a reader thread fetches
    ahead while pages are written, so the two overlap)."""
    from triage.kolega.client import KolegaClient
    from triage.sync.runs import SyncContext

    spent = {"writing": 0.0, "http": 0.0, "slowest_request": 0.0}
    page, exchange = SyncContext.page, KolegaClient._exchange

    @contextmanager
    def timed_page(self, phase):
        started = time.perf_counter()
        with page(self, phase):
            yield
        spent["writing"] += time.perf_counter() - started

    def timed_exchange(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return exchange(self, *args, **kwargs)
        finally:
            seconds = time.perf_counter() - started
            spent["http"] += seconds
            spent["slowest_request"] = max(spent["slowest_request"], seconds)

    SyncContext.page = timed_page
    KolegaClient._exchange = timed_exchange
    return spent


def main(connection_id: int, mode: str) -> dict:
    import django

    django.setup()
    from triage.models import Finding, KolegaConnection, SyncRun
    from triage.sync import sync_connection_full, sync_connection_incremental

    if mode == "row-by-row":
        _row_by_row()
    spent = _timed()
    connection = KolegaConnection.objects.get(pk=connection_id)
    sync = sync_connection_incremental if mode == "incremental" else sync_connection_full
    started = time.perf_counter()
    run = sync(connection=connection, trigger=SyncRun.Trigger.COMMAND)
    seconds = time.perf_counter() - started
    return {
        "status": run.status,
        "error": run.error,
        "kind": run.kind,
        "seconds": seconds,
        "writing_seconds": spent["writing"],
        "http_seconds": spent["http"],
        "slowest_request_seconds": spent["slowest_request"],
        "requests": run.requests,
        "rows_written": run.rows_written,
        "rows": run.details.get("rows", {}),
        "findings": Finding.objects.filter(connection=connection).count(),
        # Linux reports kilobytes.
        "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), sys.argv[2])))
