"""Incremental sync, driven by the organization's finding-events feed.

The feed is read from the stored cursor minus an overlap (events are written when Kolega
observes them, which can be a little after their timestamp), newest first. Events already
in the mirror are skipped: an event row is inserted in the same transaction as, or after,
the rows it caused to be refreshed, so a stored event means its effects are stored too.
For new events the sync fetches what they point at: the scan batch (and, once finished, the
findings it reported), the finding itself, or the fix, its diff and its pull requests
(`fix_pr_created`, `fix_pr_updated`, and the resolutions a merge causes). The cursor moves only
after all of that is committed.

A sync with nothing new costs two requests: one page of events and one of repositories (a
third, the quota balance, at most every five minutes: see `triage.sync.quota`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings

from triage import kolega
from triage.models import Fix, KolegaConnection, ScanBatch, SyncRun, SyncState
from triage.sync import rows
from triage.sync.full import (
    batch_findings_sync,
    findings_sync_repository,
    fix_diff_sync,
    fixes_needing_diff,
    fixes_sync_repository,
    repositories_sync_all,
    repository_pks_for,
    sync_connection_full,
)
from triage.sync.lease import sync_state_for
from triage.sync.runs import SyncContext, sync_run_execute

# Above this many changed findings in one repository, one walk of the repository's
# findings (200 per request) is cheaper than one request per finding.
FINDINGS_PER_REPOSITORY_BEFORE_WALK = 25
# Finding events that say a merged pull request of a fix (in `metadata.fix_id`) resolved it.
PULL_REQUEST_RESOLUTIONS = ("resolved_pr_merged", "resolved_pr_linked")


def events_overlap() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "PORTAL_SYNC_EVENTS_OVERLAP_SECONDS", 300)))


def sync_connection_incremental(
    *,
    connection: KolegaConnection,
    trigger: SyncRun.Trigger = SyncRun.Trigger.SCHEDULE,
    run: SyncRun | None = None,
) -> SyncRun:
    """Bring the mirror up to date from the finding-events feed; answer the recorded run.

    A connection never fully synced gets a full sync instead.
    """
    if sync_state_for(connection).events_cursor is None:
        return sync_connection_full(connection=connection, trigger=trigger, run=run)
    return sync_run_execute(
        connection=connection,
        kind=SyncRun.Kind.INCREMENTAL,
        trigger=trigger,
        body=incremental_sync_body,
        run=run,
    )


class _Refresher:
    """Fetches what new events point at, each thing at most once per run."""

    def __init__(self, context: SyncContext) -> None:
        self.context = context
        self.client = context.client
        self.connection = context.connection
        self.repository_pks = repository_pks_for(self.connection)
        self.batches_done: set[str] = set()
        self.fixes_done: set[str] = set()
        self.findings_done: set[str] = set()
        self.repositories_walked: set[str] = set()

    def ensure_repository(self, repository_id: str) -> None:
        if repository_id in self.repository_pks:
            return
        repository = self.client.get_repository(repository_id=repository_id)
        with self.context.page("repositories"):
            written = rows.repositories_write(connection=self.connection, repositories=[repository])
        self.context.wrote("repositories", written.rows)
        self.repository_pks.update(written.pks)

    def scan_batch(self, *, repository_id: str, scan_id: str) -> None:
        if scan_id in self.batches_done:
            return
        self.batches_done.add(scan_id)
        self.ensure_repository(repository_id)
        batch = self.client.get_scan(repository_id=repository_id, scan_id=scan_id)
        with self.context.page("scan batches"):
            written = rows.scan_batches_write(
                connection=self.connection, batches=[batch], repository_pks=self.repository_pks
            )
        self.context.wrote("scan_batches", written.rows)
        mirrored = ScanBatch.objects.select_related("repository").get(pk=written.pks[scan_id])
        if mirrored.is_terminal and mirrored.findings_synced_at is None:
            batch_findings_sync(self.context, batch=mirrored, pks=self.repository_pks)
            self.findings_done.update(
                mirrored.findings.values_list("upstream_id", flat=True).iterator()
            )

    def fix(self, *, repository_id: str, fix_id: str) -> None:
        if fix_id in self.fixes_done:
            return
        self.fixes_done.add(fix_id)
        self.ensure_repository(repository_id)
        try:
            fix = self.client.get_fix(repository_id=repository_id, fix_id=fix_id)
        except kolega.KolegaNotFound:
            return
        with self.context.page("fixes"):
            written = rows.fixes_write(
                connection=self.connection, fixes=[fix], repository_pks=self.repository_pks
            )
        self.context.wrote("fixes", written.rows)
        mirrored = Fix.objects.select_related("repository").get(pk=written.pks[fix_id])
        if mirrored.needs_diff:
            fix_diff_sync(self.context, fix=mirrored)

    def fixes_of_finding(self, *, repository_id: str, finding_id: str) -> None:
        self.ensure_repository(repository_id)
        fixes_sync_repository(
            self.context,
            repository_id=repository_id,
            pks=self.repository_pks,
            finding_id=finding_id,
        )

    def findings(self, finding_ids_by_repository: dict[str, set[str]]) -> None:
        for repository_id, finding_ids in finding_ids_by_repository.items():
            pending = finding_ids - self.findings_done
            if not pending or repository_id in self.repositories_walked:
                continue
            self.ensure_repository(repository_id)
            if len(pending) > FINDINGS_PER_REPOSITORY_BEFORE_WALK:
                self.repositories_walked.add(repository_id)
                self.findings_done |= findings_sync_repository(
                    self.context, repository_id=repository_id, pks=self.repository_pks
                )
                continue
            fetched = []
            for finding_id in sorted(pending):
                try:
                    fetched.append(
                        self.client.get_finding(repository_id=repository_id, finding_id=finding_id)
                    )
                except kolega.KolegaNotFound:
                    continue
            with self.context.page("findings"):
                written = rows.findings_write(
                    connection=self.connection, findings=fetched, repository_pks=self.repository_pks
                )
            self.context.wrote_findings(written)
            self.findings_done |= pending

    def apply(self, events: Sequence[kolega.FindingEvent]) -> None:
        """Refresh everything `events` say changed (oldest first, so batches come first)."""
        changed_findings: dict[str, set[str]] = defaultdict(set)
        for event in sorted(events, key=lambda event: event.event_timestamp):
            self.ensure_repository(event.repository_id)
            if event.scan_id:
                self.scan_batch(repository_id=event.repository_id, scan_id=event.scan_id)
            named = event.metadata.get("fix_id")
            fix_id = named if isinstance(named, str) and named else None
            if event.event_type.startswith("fix_"):
                # fix_pr_created and fix_pr_updated too: the fix lists its pull requests.
                if fix_id:
                    self.fix(repository_id=event.repository_id, fix_id=fix_id)
                else:
                    self.fixes_of_finding(
                        repository_id=event.repository_id, finding_id=event.finding_id
                    )
                continue
            changed_findings[event.repository_id].add(event.finding_id)
            if event.event_type in PULL_REQUEST_RESOLUTIONS and fix_id:
                # The finding was resolved by a merged pull request of that fix (linked
                # findings are not among the fix's own): its merge status changed too.
                self.fix(repository_id=event.repository_id, fix_id=fix_id)
        self.findings(changed_findings)


def incremental_sync_body(context: SyncContext) -> None:
    connection = context.connection
    state = SyncState.objects.get(connection=connection)
    cursor = state.events_cursor
    # No pruning runs meanwhile: it takes this sync's lease.
    pruned_before = state.events_pruned_before
    refresher = _Refresher(context)
    newest = cursor
    new_events = 0
    for page in kolega.iter_pages(
        context.client.list_finding_events, start=cursor - events_overlap()
    ):
        known = rows.known_event_ids(
            connection=connection, event_ids=[event.id for event in page.items]
        )
        # Events older than the connection's pruning were folded into baselines: known too.
        fresh = [
            event for event in rows.events_kept(page.items, pruned_before) if event.id not in known
        ]
        if not fresh:
            continue
        refresher.apply(fresh)
        with context.page("finding events"):
            new_events += rows.finding_events_write(
                connection=connection, events=fresh, pruned_before=pruned_before
            )
        newest = max(newest, *(event.event_timestamp for event in fresh))
    context.wrote("finding_events", new_events)
    # New repositories, renames and archiving leave no finding event.
    refresher.repository_pks.update(repositories_sync_all(context))
    _refresh_active(refresher)
    with context.page("saving the cursor"):
        locked = SyncState.objects.select_for_update().get(connection=connection)
        if locked.events_cursor is None or newest > locked.events_cursor:
            locked.events_cursor = newest
            locked.save(update_fields=["events_cursor"])


def _refresh_active(refresher: _Refresher) -> None:
    """Batches and fixes the mirror still holds as running: their progress leaves no event."""
    connection = refresher.connection
    active_batches = (
        ScanBatch.objects.filter(connection=connection).active().select_related("repository")
    )
    for batch in active_batches:
        refresher.scan_batch(repository_id=batch.repository.upstream_id, scan_id=batch.upstream_id)
    unfinished_batches = ScanBatch.objects.filter(
        connection=connection, findings_synced_at__isnull=True
    ).terminal()
    for batch in unfinished_batches.select_related("repository"):
        batch_findings_sync(refresher.context, batch=batch, pks=refresher.repository_pks)
    active_fixes = (
        Fix.objects.filter(connection=connection).unsettled().select_related("repository")
    )
    for fix in active_fixes:
        refresher.fix(repository_id=fix.repository.upstream_id, fix_id=fix.upstream_id)
    for fix in fixes_needing_diff(connection):
        fix_diff_sync(refresher.context, fix=fix)
