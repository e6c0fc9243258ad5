"""Full sync: walk everything the organization holds and upsert it, several pages per
transaction."""

from __future__ import annotations

from django.db.models import F, Q
from django.utils import timezone

from triage import kolega
from triage.models import Fix, KolegaConnection, Repository, ScanBatch, SyncRun, SyncState
from triage.sync import rows
from triage.sync.pages import (
    chunk_depth,
    chunks_of,
    event_pages_of,
    pages_of,
    read_ahead_when_enabled,
)
from triage.sync.runs import SyncContext, sync_run_execute


def sync_connection_full(
    *,
    connection: KolegaConnection,
    trigger: SyncRun.Trigger = SyncRun.Trigger.SCHEDULE,
    run: SyncRun | None = None,
) -> SyncRun:
    """Mirror everything of the connection's organization; answer the recorded run.

    Finding events are walked first and the newest one becomes the incremental cursor, so
    whatever changes while the rest is walked is replayed by the next incremental sync.
    The cursor is saved last, after every row it covers is committed.
    """
    return sync_run_execute(
        connection=connection,
        kind=SyncRun.Kind.FULL,
        trigger=trigger,
        body=full_sync_body,
        run=run,
    )


def full_sync_body(context: SyncContext) -> None:
    connection = context.connection
    newest_event = events_sync_all(context)
    repository_pks = repositories_sync_all(context)
    for repository_id, repository_pk in repository_pks.items():
        scan_batches_sync_repository(context, repository_id=repository_id, pks=repository_pks)
        # The findings of finished batches first: they are needed for the batch links anyway,
        # and when they cover every finding of the repository its own walk is not needed.
        seen = batch_findings_sync_pending(context, repository_pk=repository_pk)
        total = context.client.list_findings(repository_id=repository_id, limit=1).total
        if total != len(seen):
            findings_sync_repository(context, repository_id=repository_id, pks=repository_pks)
        fixes_sync_repository(context, repository_id=repository_id, pks=repository_pks)
    fix_diffs_sync_pending(context)
    with context.page("saving the cursor"):
        state = SyncState.objects.select_for_update().get(connection=connection)
        if newest_event is not None and (
            state.events_cursor is None or newest_event > state.events_cursor
        ):
            state.events_cursor = newest_event
        elif state.events_cursor is None:
            # An organization with no events yet: start the feed from now.
            state.events_cursor = timezone.now()
        state.save(update_fields=["events_cursor"])


# A full sync writes the event feed and the findings in chunks of several pages, one
# transaction each: its cursor is saved once, at the end, so no page needs a commit of its own.
EVENTS_PER_WRITE = 5000
FINDINGS_PER_WRITE = 1000


def events_sync_all(context: SyncContext):
    newest = None
    # No pruning runs meanwhile: it takes this sync's lease.
    pruned_before = (
        SyncState.objects.filter(connection=context.connection)
        .values_list("events_pruned_before", flat=True)
        .first()
    )
    pages = event_pages_of(context.client.list_finding_events, depth=chunk_depth(EVENTS_PER_WRITE))
    for events in chunks_of(pages, EVENTS_PER_WRITE):
        if newest is None:
            # The feed is newest first: its first chunk holds the newest event.
            newest = max(event.event_timestamp for event in events)
        with context.page("finding events"):
            context.wrote(
                "finding_events",
                rows.finding_events_write(
                    connection=context.connection, events=events, pruned_before=pruned_before
                ),
            )
    return newest


def repositories_sync_all(context: SyncContext) -> dict[str, int]:
    pks: dict[str, int] = {}
    for page in pages_of(context.client.list_repositories, include_archived=True):
        with context.page("repositories"):
            written = rows.repositories_write(
                connection=context.connection, repositories=page.items
            )
        context.wrote("repositories", written.rows)
        pks.update(written.pks)
    return pks


def repository_pks_for(connection: KolegaConnection) -> dict[str, int]:
    return dict(Repository.objects.filter(connection=connection).values_list("upstream_id", "pk"))


def scan_batches_sync_repository(
    context: SyncContext, *, repository_id: str, pks: dict[str, int]
) -> None:
    for page in pages_of(context.client.list_scans, repository_id=repository_id):
        with context.page("scan batches"):
            written = rows.scan_batches_write(
                connection=context.connection, batches=page.items, repository_pks=pks
            )
        context.wrote("scan_batches", written.rows)


def findings_sync_repository(
    context: SyncContext, *, repository_id: str, pks: dict[str, int], **filters
) -> set[str]:
    """Upsert every finding of the repository (matching `filters`); answer their ids."""
    seen: set[str] = set()
    pages = pages_of(
        context.client.list_findings,
        repository_id=repository_id,
        depth=chunk_depth(FINDINGS_PER_WRITE),
        **filters,
    )
    for findings in chunks_of(pages, FINDINGS_PER_WRITE):
        with context.page("findings"):
            written = rows.findings_write(
                connection=context.connection, findings=findings, repository_pks=pks
            )
        context.wrote_findings(written)
        seen.update(finding.id for finding in findings)
    return seen


def fixes_sync_repository(
    context: SyncContext, *, repository_id: str, pks: dict[str, int], **filters
) -> None:
    for page in pages_of(context.client.list_fixes, repository_id=repository_id, **filters):
        with context.page("fixes"):
            written = rows.fixes_write(
                connection=context.connection, fixes=page.items, repository_pks=pks
            )
        context.wrote("fixes", written.rows)


def batch_findings_sync(context: SyncContext, *, batch: ScanBatch, pks: dict[str, int]) -> set[str]:
    """List the findings a finished batch reported: upsert them and link them to it.

    A batch's findings are fixed once it is finished, so this runs once per batch.
    """
    return batches_findings_sync(context, batches=[batch], pks=pks)


def batches_findings_sync(
    context: SyncContext, *, batches: list[ScanBatch], pks: dict[str, int]
) -> set[str]:
    """`batch_findings_sync` of each batch in turn; answer the finding ids.

    One reader walks every batch's listing, so the next batch's pages are fetched while
    one batch's findings are written. A batch is marked listed once all its findings are.
    """

    def listed():
        for batch in batches:
            for page in kolega.iter_pages(
                context.client.list_findings,
                repository_id=batch.repository.upstream_id,
                scan_batch_id=batch.upstream_id,
            ):
                yield batch, page.items
            yield batch, None  # the end of the batch's listing

    seen: set[str] = set()
    pending: list = []

    def write(batch: ScanBatch) -> None:
        with context.page("findings of scan batches"):
            written = rows.findings_write(
                connection=context.connection, findings=pending, repository_pks=pks
            )
            context.wrote_findings(written)
            context.wrote(
                "scan_batch_findings",
                rows.scan_batch_findings_link(
                    scan_batch_pk=batch.pk, finding_pks=written.pks.values()
                ),
            )
        seen.update(finding.id for finding in pending)
        pending.clear()

    for batch, items in read_ahead_when_enabled(listed(), depth=chunk_depth(FINDINGS_PER_WRITE)):
        if items is not None:
            pending.extend(items)
            if len(pending) >= FINDINGS_PER_WRITE:
                write(batch)
            continue
        if pending:
            write(batch)
        with context.page("findings of scan batches"):
            ScanBatch.objects.filter(pk=batch.pk).update(findings_synced_at=timezone.now())
    return seen


def batch_findings_sync_pending(
    context: SyncContext, *, repository_pk: int | None = None
) -> set[str]:
    """List the findings of every finished batch not listed yet; answer the finding ids."""
    pks = repository_pks_for(context.connection)
    pending = ScanBatch.objects.filter(
        connection=context.connection, findings_synced_at__isnull=True
    )
    if repository_pk is not None:
        pending = pending.filter(repository_id=repository_pk)
    pending = pending.terminal().select_related("repository").order_by("created_at", "pk")
    return batches_findings_sync(context, batches=list(pending), pks=pks)


def fix_diff_sync(context: SyncContext, *, fix: Fix) -> None:
    diff = context.client.get_fix_diff(
        repository_id=fix.repository.upstream_id, fix_id=fix.upstream_id
    )
    with context.page("fix diffs"):
        fix.refresh_from_db(fields=["status", "completed_at"])
        if rows.fix_diff_store(fix=fix, diff=diff):
            context.wrote("fix_diffs", 1)


def fixes_needing_diff(connection: KolegaConnection):
    """Fixes whose last run ended with a diff the mirror does not hold yet."""
    return (
        Fix.objects.filter(connection=connection)
        .with_diff()
        .filter(
            Q(diff_synced_at__isnull=True)
            | Q(diff_for_completed_at__isnull=True, completed_at__isnull=False)
            | ~Q(diff_for_completed_at=F("completed_at"))
        )
        .select_related("repository")
    )


def fix_diffs_sync_pending(context: SyncContext) -> None:
    for fix in fixes_needing_diff(context.connection):
        fix_diff_sync(context, fix=fix)
