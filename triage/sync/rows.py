"""Turning Kolega's answers into mirror rows and writing them with bulk upserts.

Every writer takes one page of API models and writes it with one set-based upsert on
(connection, upstream_id), so a page costs a handful of queries whatever its size: COPY
into a staging table and one INSERT ... ON CONFLICT on PostgreSQL (`copy_upsert`),
`bulk_create(..., update_conflicts=True)` on SQLite. Callers wrap each page in a transaction.
Each writer answers the mirror's primary keys of the rows, keyed by upstream id, and how
many rows it wrote.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from operator import attrgetter
from typing import Any

from django.conf import settings
from django.db import connection as db
from django.db import models, transaction
from django.utils import timezone

from triage import kolega
from triage.models import (
    Finding,
    FindingEvent,
    FindingSearch,
    Fix,
    FixApproval,
    KolegaConnection,
    PullRequest,
    Repository,
    ScanBatch,
    ScanBatchFinding,
    SyncRun,
)
from triage.models.audit import SYSTEM, audit_log
from triage.sync import copy_upsert
from triage.sync.notifications import (
    fix_ready_tell,
    pull_requests_changed,
    scan_batch_settled,
    scan_batches_settled,
)
from triage.sync.ownership import owners_evaluate_written

UNIQUE_FIELDS = ["connection", "upstream_id"]

# The fields of each mirror model that take the contract model's field of the same name as it
# comes; the `*_FIELDS` lists are every field a sync writes (and compares before writing).
REPOSITORY_COPIED = ("name", "description", "archived", "created_at", "updated_at")
REPOSITORY_FIELDS = [*REPOSITORY_COPIED, "source_repos"]
SCAN_BATCH_COPIED = (
    "scan_type",
    "status",
    "total_repositories",
    "scans_created",
    "scans_failed",
    "scans_completed",
    "scans_assessed",
    "error_message",
    "created_at",
    "started_at",
    "completed_at",
)
SCAN_BATCH_FIELDS = ["repository", *SCAN_BATCH_COPIED]
FINDING_COPIED = (
    "check_id",
    "severity",
    "status",
    "file_path",
    "message",
    "title",
    "category",
    "scan_type",
    "source_url",
    "cvss_base_score",
    "cvss_severity",
    "cvss_vector",
    "first_detected_at",
    "last_detected_at",
    "resolved_at",
    "created_at",
    "updated_at",
)
FINDING_FIELDS = ["repository", *FINDING_COPIED, "cwe", "owasp", "references"]
FINDING_EVENT_COPIED = (
    "organization_id",
    "scan_id",
    "scan_type",
    "event_type",
    "previous_status",
    "new_status",
    "severity",
    "check_id",
    "file_path",
    "actor_user_id",
    "event_timestamp",
    "created_at",
)
FIX_COPIED = (
    "title",
    "status",
    "source_repo",
    "source_repo_provider",
    "source_scan_branch",
    "source_base_commit_sha",
    "error_message",
    "created_at",
    "started_at",
    "completed_at",
)
FIX_FIELDS = ["repository", "finding_ids", *FIX_COPIED]
PULL_REQUEST_COPIED = (
    "repo_full_name",
    "branch_name",
    "pr_number",
    "pr_url",
    "merge_status",
    "created_at",
    "merged_at",
)
PULL_REQUEST_FIELDS = ["fix", *PULL_REQUEST_COPIED]


def _copied(source: object, names: Iterable[str]) -> dict[str, Any]:
    """The named fields of a contract model, for the mirror fields of the same names."""
    return {name: getattr(source, name) for name in names}


@dataclass
class Written:
    """Mirror primary keys by upstream id, and how many rows were inserted or changed."""

    pks: dict[str, int]
    rows: int
    # Findings only: the rows the mirror did not hold before, counted by severity.
    new_by_severity: Counter = field(default_factory=Counter)
    new_pks: list[int] = field(default_factory=list)


def _mirror_rows(model: type[models.Model], connection: KolegaConnection) -> Callable[..., Any]:
    """What makes one page's mirror rows of `model` for `connection`, all synced at one
    instant: `make(upstream_id, **values)`. On PostgreSQL a row is staged for COPY and needs
    only its column values, not a model instance (`copy_upsert.row`)."""
    build = partial(copy_upsert.row, model) if db.vendor == "postgresql" else model
    common = {
        "connection_id": connection.pk,
        "team_id": connection.team_id,
        "synced_at": timezone.now(),
    }

    def make(upstream_id: str, **values: Any):
        return build(upstream_id=upstream_id, **common, **values)

    return make


def _upsert(
    model: type[models.Model],
    connection: KolegaConnection,
    rows: Sequence[models.Model],
    update_fields: list[str],
) -> Written:
    """Insert new rows and overwrite changed ones; rows equal to the mirror are not written.

    Comparing first keeps a repeated sync from rewriting (and re-indexing) every row, so
    "nothing changed" is visible as zero rows written.
    """
    if not rows:
        return Written(pks={}, rows=0)
    # The last answer for an upstream id wins; a page may repeat a row while others move.
    by_id = {row.upstream_id: row for row in rows}
    if db.vendor == "postgresql":
        pks, written = copy_upsert.upsert(
            model,
            list(by_id.values()),
            unique_columns=["connection_id", "upstream_id"],
            update_columns=[_column(model, name) for name in update_fields],
            touch_columns=["synced_at"],
        )
        return Written(pks=pks, rows=written)
    existing = {
        upstream_id: (pk, tuple(values))
        for upstream_id, pk, *values in model.objects.filter(
            connection_id=connection.pk, upstream_id__in=list(by_id)
        ).values_list("upstream_id", "pk", *[_column(model, name) for name in update_fields])
    }
    changed = [
        row
        for upstream_id, row in by_id.items()
        if upstream_id not in existing
        or existing[upstream_id][1] != _values_of(model, row, update_fields)
    ]
    pks = {upstream_id: pk for upstream_id, (pk, _) in existing.items()}
    if changed:
        model.objects.bulk_create(
            changed,
            update_conflicts=True,
            unique_fields=UNIQUE_FIELDS,
            update_fields=[*update_fields, "synced_at"],
        )
        missing = [row.upstream_id for row in changed if row.upstream_id not in pks]
        returned = {row.upstream_id: row.pk for row in changed if row.pk is not None}
        pks.update(returned)
        if any(upstream_id not in pks for upstream_id in missing):
            pks.update(
                model.objects.filter(
                    connection_id=connection.pk, upstream_id__in=missing
                ).values_list("upstream_id", "pk")
            )
    return Written(pks=pks, rows=len(changed))


def _column(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    return field.attname


def _values_of(model: type[models.Model], row: models.Model, names: list[str]) -> tuple:
    # Aware datetimes compare by instant, so Kolega's offsets and the database's UTC agree.
    return tuple(getattr(row, model._meta.get_field(name).attname) for name in names)


@dataclass(frozen=True)
class _Mirrored:
    """How one kind of contract model becomes rows of its mirror model."""

    model: type[models.Model]
    upstream_id: Callable[[Any], str]
    copied: tuple[str, ...]
    fields: list[str]


_REPOSITORIES = _Mirrored(Repository, attrgetter("id"), REPOSITORY_COPIED, REPOSITORY_FIELDS)
_SCAN_BATCHES = _Mirrored(ScanBatch, attrgetter("batch_id"), SCAN_BATCH_COPIED, SCAN_BATCH_FIELDS)
_FINDINGS = _Mirrored(Finding, attrgetter("id"), FINDING_COPIED, FINDING_FIELDS)
_FIXES = _Mirrored(Fix, attrgetter("id"), FIX_COPIED, FIX_FIELDS)


def _write(
    mirrored: _Mirrored,
    connection: KolegaConnection,
    items: Iterable[Any],
    values: Callable[[Any], dict[str, Any]] = lambda item: {},
    *,
    repository_pks: dict[str, int] | None = None,
) -> Written:
    """One mirror row per contract model, upserted: the copied fields as they come, the rest
    from `values`, and the mirror's repository when `repository_pks` is given."""

    def repository(item: Any) -> dict[str, int]:
        return (
            {} if repository_pks is None else {"repository_id": repository_pks[item.repository_id]}
        )

    make = _mirror_rows(mirrored.model, connection)
    rows = [
        make(
            mirrored.upstream_id(item),
            **repository(item),
            **values(item),
            **_copied(item, mirrored.copied),
        )
        for item in items
    ]
    return _upsert(mirrored.model, connection, rows, mirrored.fields)


def repositories_write(
    *, connection: KolegaConnection, repositories: Iterable[kolega.Repository]
) -> Written:
    return _write(
        _REPOSITORIES,
        connection,
        repositories,
        lambda repository: {
            "source_repos": [ref.model_dump(mode="json") for ref in repository.repositories]
        },
    )


def scan_batches_write(
    *,
    connection: KolegaConnection,
    batches: Iterable[kolega.ScanBatch],
    repository_pks: dict[str, int],
) -> Written:
    batches = list(batches)
    previous = dict(
        ScanBatch.objects.filter(
            connection_id=connection.pk, upstream_id__in=[batch.batch_id for batch in batches]
        ).values_list("pk", "status")
    )
    written = _write(_SCAN_BATCHES, connection, batches, repository_pks=repository_pks)
    scan_batches_settled(batch_pks=written.pks.values(), previous=previous)
    return written


def findings_write(
    *,
    connection: KolegaConnection,
    findings: Iterable[kolega.Finding],
    repository_pks: dict[str, int],
) -> Written:
    def values(finding: kolega.Finding) -> dict[str, Any]:
        return {
            "cwe": list(finding.cwe),
            "owasp": list(finding.owasp),
            "references": list(finding.references),
        }

    findings = list(findings)
    known = set(
        Finding.objects.filter(
            connection_id=connection.pk, upstream_id__in=[finding.id for finding in findings]
        ).values_list("upstream_id", flat=True)
    )
    new_by_severity = Counter(
        str(finding.severity).lower()
        for finding in {finding.id: finding for finding in findings}.values()
        if finding.id not in known
    )
    written = _write(_FINDINGS, connection, findings, values, repository_pks=repository_pks)
    written.new_by_severity = new_by_severity
    written.new_pks = [pk for upstream_id, pk in written.pks.items() if upstream_id not in known]
    if written.rows:
        # The search text of new and changed findings (unchanged texts are not rewritten).
        FindingSearch.objects.write(
            {
                written.pks[finding.id]: Finding.search_text_of(
                    title=finding.title,
                    message=finding.message,
                    check_id=finding.check_id,
                    file_path=finding.file_path,
                )
                for finding in findings
            }
        )
        # New and changed findings get their owner by rule; owners are never among the
        # fields written above, so an existing owner is kept.
        owners_evaluate_written(team_id=connection.team_id, finding_pks=written.pks.values())
    return written


def scan_batch_findings_link(*, scan_batch_pk: int, finding_pks: Iterable[int]) -> int:
    """Record that a batch reported these findings; links already known are kept."""
    links = [ScanBatchFinding(scan_batch_id=scan_batch_pk, finding_id=pk) for pk in finding_pks]
    if not links:
        return 0
    if db.vendor == "postgresql":
        return copy_upsert.insert_new(
            ScanBatchFinding, links, unique_columns=["scan_batch_id", "finding_id"]
        )
    known = set(
        ScanBatchFinding.objects.filter(
            scan_batch_id=scan_batch_pk, finding_id__in=[link.finding_id for link in links]
        ).values_list("finding_id", flat=True)
    )
    new = [link for link in links if link.finding_id not in known]
    ScanBatchFinding.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def _finding_event_rows(
    connection: KolegaConnection, events: Iterable[kolega.FindingEvent]
) -> dict[str, Any]:
    """The mirror rows of `events` by event id (the last of a repeated id wins)."""
    make = _mirror_rows(FindingEvent, connection)
    return {
        event.id: make(
            event.id,
            repository_upstream_id=event.repository_id,
            finding_upstream_id=event.finding_id,
            metadata=dict(event.metadata),
            **_copied(event, FINDING_EVENT_COPIED),
        )
        for event in events
    }


def events_kept(
    events: Sequence[kolega.FindingEvent], pruned_before: datetime | None
) -> list[kolega.FindingEvent]:
    """The events newer than the connection's pruning (``SyncState.events_pruned_before``, read
    once per sync: a pruning takes the sync's lease); older ones are in the baselines."""
    if pruned_before is None:
        return list(events)
    return [event for event in events if event.event_timestamp >= pruned_before]


def finding_events_write(
    *,
    connection: KolegaConnection,
    events: Sequence[kolega.FindingEvent],
    pruned_before: datetime | None,
) -> int:
    """Insert events not seen before; an event never changes, so known ones are skipped, and
    so are those older than the connection's pruning (`events_kept`)."""
    events = events_kept(events, pruned_before)
    if not events:
        return 0
    if db.vendor == "postgresql":
        by_id = _finding_event_rows(connection, events)
        return copy_upsert.insert_new(
            FindingEvent, list(by_id.values()), unique_columns=["connection_id", "upstream_id"]
        )
    known = set(
        FindingEvent.objects.filter(
            connection_id=connection.pk, upstream_id__in=[event.id for event in events]
        ).values_list("upstream_id", flat=True)
    )
    rows = _finding_event_rows(connection, [event for event in events if event.id not in known])
    FindingEvent.objects.bulk_create(list(rows.values()), ignore_conflicts=True)
    return len(rows)


def known_event_ids(*, connection: KolegaConnection, event_ids: Iterable[str]) -> set[str]:
    return set(
        FindingEvent.objects.filter(
            connection_id=connection.pk, upstream_id__in=list(event_ids)
        ).values_list("upstream_id", flat=True)
    )


def fixes_write(
    *,
    connection: KolegaConnection,
    fixes: Sequence[kolega.Fix],
    repository_pks: dict[str, int],
) -> Written:
    """Write fixes and the pull requests each lists."""

    written = _write(
        _FIXES,
        connection,
        fixes,
        lambda fix: {"finding_ids": list(fix.finding_ids)},
        repository_pks=repository_pks,
    )
    make = _mirror_rows(PullRequest, connection)
    pull_requests = [
        make(
            pull_request_upstream_id(pr),
            fix_id=written.pks[fix.id],
            **_copied(pr, PULL_REQUEST_COPIED),
        )
        for fix in fixes
        for pr in fix.pull_requests
    ]
    previous = dict(
        PullRequest.objects.filter(
            connection_id=connection.pk, upstream_id__in=[pr.upstream_id for pr in pull_requests]
        ).values_list("upstream_id", "merge_status")
    )
    prs_written = _upsert(PullRequest, connection, pull_requests, PULL_REQUEST_FIELDS)
    news = {
        pr.upstream_id: prs_written.pks[pr.upstream_id]
        for pr in pull_requests
        if pr.upstream_id in prs_written.pks
        and (previous.get(pr.upstream_id) or "").lower() != pr.merge_status.lower()
    }
    pull_requests_changed(
        connection=connection,
        upstream_pks=news,
        previous={key: value.lower() for key, value in previous.items()},
    )
    return Written(pks=written.pks, rows=written.rows + prs_written.rows)


def pull_request_upstream_id(pull_request: kolega.PullRequest) -> str:
    return f"{pull_request.repo_full_name}#{pull_request.pr_number}"


def fix_diff_store(*, fix: Fix, diff: kolega.FixDiff) -> bool:
    """Keep the diff Kolega answered for the fix's current run; True when it changed.

    An approval of another diff stops counting here, whoever changed the diff: a refine in
    Kolega's own UI or CLI is seen first by a sync or by tracking, never by the portal.
    """
    text = diff.diff
    digest = hashlib.sha256(text.encode()).hexdigest() if text is not None else ""
    changed = text != fix.diff or digest != fix.diff_sha256
    fix.diff = text
    fix.diff_sha256 = digest
    fix.diff_for_completed_at = fix.completed_at
    fix.diff_synced_at = timezone.now()
    with transaction.atomic():
        fix.save(update_fields=["diff", "diff_sha256", "diff_for_completed_at", "diff_synced_at"])
        fix_approvals_void_for_other_diff(fix=fix, diff_sha256=digest)
        fix_ready_tell(fix=fix)
    return changed


def fix_approvals_void_for_other_diff(*, fix: Fix, diff_sha256: str) -> int:
    """Void the fix's pending or approved requests bound to a diff other than ``diff_sha256``
    (the diff Kolega has now); answer how many."""
    stale = list(
        FixApproval.objects.select_for_update()
        .filter(fix_id=fix.pk, status__in=FixApproval.OPEN_STATUSES)
        .exclude(diff_sha256=diff_sha256)
    )
    for approval in stale:
        fix_approval_void(
            approval,
            fix=fix,
            actor=SYSTEM,
            reason="the diff changed in Kolega",
            approved_diff_sha256=approval.diff_sha256,
            kolega_diff_sha256=diff_sha256,
        )
    return len(stale)


def fix_approval_void(approval: FixApproval, *, fix: Fix, actor, **details) -> None:
    """An approval request stops counting (its diff is not the fix's any more); the audit entry
    on the fix says why in ``details``."""
    approval.status = FixApproval.Status.VOIDED
    approval.decided_at = timezone.now()
    approval.save(update_fields=["status", "decided_at"])
    audit_log(
        team=fix.team,
        actor=actor,
        action="approval.void",
        target=fix,
        details={"approval": approval.pk, **details},
    )


# `/progress` repeats every batch field a list answers except the scan type and creation time.
PROGRESS_BATCH_FIELDS = tuple(
    name for name in SCAN_BATCH_COPIED if name not in ("scan_type", "created_at")
)


def _progress_store(row: models.Model, progress: object, copied: Iterable[str], **values) -> None:
    """Store `/progress` on the row: the contract fields it repeats (`copied`) and `values`."""
    stored = {**_copied(progress, copied), **values, "progress_synced_at": timezone.now()}
    for name, value in stored.items():
        setattr(row, name, value)
    row.save(update_fields=list(stored))


def scan_progress_store(*, batch: ScanBatch, progress: kolega.ScanProgress) -> None:
    """Store `/progress` on the batch: the contract fields it repeats and the breakdown; a
    batch that became terminal is told to the channels whose rules want it."""
    previous_status = batch.status
    _progress_store(
        batch,
        progress,
        PROGRESS_BATCH_FIELDS,
        percent_complete=progress.percent_complete,
        progress_repositories=[entry.model_dump(mode="json") for entry in progress.repositories],
    )
    scan_batch_settled(batch=batch, previous_status=previous_status)


PROGRESS_FIX_FIELDS = (
    "status",
    "started_at",
    "completed_at",
    "error_message",
    "duration_seconds",
    "agent_steps_completed",
    "latest_activity_at",
)


def fix_progress_store(*, fix: Fix, progress: kolega.FixProgress) -> None:
    _progress_store(fix, progress, PROGRESS_FIX_FIELDS)


# The tables each kind of row a sync counts (`SyncContext.wrote`) goes to.
TABLES_OF_ROWS = {
    "findings": (Finding, FindingSearch),
    "finding_events": (FindingEvent,),
    "scan_batches": (ScanBatch, ScanBatchFinding),
    "repositories": (Repository,),
    "fixes": (Fix, PullRequest),
    "fix_diffs": (Fix,),
    "sync_runs": (SyncRun,),
}


def statistics_refresh(
    of: Iterable[type[models.Model]] = (Finding, FindingSearch, FindingEvent, ScanBatchFinding),
) -> None:
    """ANALYZE the tables of the models `of` (PostgreSQL; SQLite plans without statistics)."""
    if db.vendor != "postgresql":
        return
    with db.cursor() as cursor:
        for table in sorted({model._meta.db_table for model in of}):
            cursor.execute(f"ANALYZE {db.ops.quote_name(table)}")


def statistics_refresh_after(rows: Mapping[str, int]) -> bool:
    """After a sync or a pruning that wrote or deleted `rows` (per kind), ANALYZE the tables it
    touched when they add up to PORTAL_ANALYZE_AFTER_ROWS: so many changed rows make the
    planner's statistics stale long before autovacuum notices. Answers whether it did."""
    if sum(rows.values()) < settings.PORTAL_ANALYZE_AFTER_ROWS:
        return False
    touched = [
        model for kind, count in rows.items() if count for model in TABLES_OF_ROWS.get(kind, ())
    ]
    statistics_refresh(touched)
    return db.vendor == "postgresql"
