"""Reconciliation: catch what the events feed missed by comparing counts with Kolega.

For every repository it asks Kolega how many findings it holds in each status (one
`limit=1` request per status: the page's `total` is the count) and compares with the
mirror. A repository whose counts differ is walked in full and upserted, and mirror rows
Kolega no longer lists are removed. Scan batches and fixes are listed for every repository,
which also finds batches started outside the portal that changed no finding.
"""

from __future__ import annotations

from django.db.models import Count

from triage import kolega
from triage.models import Finding, KolegaConnection, Repository, SyncRun
from triage.sync.full import (
    batch_findings_sync_pending,
    findings_sync_repository,
    fix_diffs_sync_pending,
    fixes_sync_repository,
    repositories_sync_all,
    scan_batches_sync_repository,
)
from triage.sync.runs import SyncContext, sync_run_execute

FINDING_STATUSES = ("open", "resolved", "ignored", "false_positive", "needs_manual_review")


def sync_connection_reconcile(
    *,
    connection: KolegaConnection,
    trigger: SyncRun.Trigger = SyncRun.Trigger.SCHEDULE,
    run: SyncRun | None = None,
) -> SyncRun:
    """Compare finding counts per repository and status with Kolega and repair differences."""
    return sync_run_execute(
        connection=connection,
        kind=SyncRun.Kind.RECONCILE,
        trigger=trigger,
        body=reconcile_body,
        run=run,
    )


def upstream_counts(
    client: kolega.KolegaClient, *, repository_id: str, statuses=FINDING_STATUSES
) -> dict[str, int]:
    counts = {}
    for status in statuses:
        page = client.list_findings(repository_id=repository_id, status=status, limit=1)
        counts[status] = page.total
    return counts


def mirror_counts(*, repository_pk: int) -> dict[str, int]:
    counts = dict.fromkeys(FINDING_STATUSES, 0)
    for row in (
        Finding.objects.filter(repository_id=repository_pk)
        .values("status")
        .annotate(count=Count("pk"))
        .order_by()
    ):
        counts[row["status"]] = row["count"]
    return counts


def findings_remove_unlisted(*, repository_pk: int, listed: set[str], context: SyncContext) -> int:
    mirrored = Finding.objects.filter(repository_id=repository_pk).values_list("upstream_id", "pk")
    unlisted = [pk for upstream_id, pk in mirrored.iterator() if upstream_id not in listed]
    removed = 0
    # In chunks: SQLite caps the number of parameters of one statement.
    for start in range(0, len(unlisted), 500):
        with context.page("removing findings Kolega no longer lists"):
            removed += (
                Finding.objects.filter(pk__in=unlisted[start : start + 500])
                .delete()[1]
                .get(Finding._meta.label, 0)
            )
    return removed


def reconcile_body(context: SyncContext) -> None:
    connection = context.connection
    pks = repositories_sync_all(context)
    repairs = []
    for repository_id, repository_pk in pks.items():
        scan_batches_sync_repository(context, repository_id=repository_id, pks=pks)
        fixes_sync_repository(context, repository_id=repository_id, pks=pks)
        upstream = upstream_counts(context.client, repository_id=repository_id)
        mirrored = mirror_counts(repository_pk=repository_pk)
        if all(upstream[status] == mirrored.get(status, 0) for status in FINDING_STATUSES):
            continue
        seen = findings_sync_repository(context, repository_id=repository_id, pks=pks)
        removed = findings_remove_unlisted(
            repository_pk=repository_pk, listed=seen, context=context
        )
        repairs.append(
            {
                "repository": repository_id,
                "kolega": upstream,
                "mirror": mirrored,
                "removed": removed,
            }
        )
        context.extra_details["repairs"] = repairs
    batch_findings_sync_pending(context)
    fix_diffs_sync_pending(context)
    gone = Repository.objects.filter(connection=connection).exclude(upstream_id__in=list(pks))
    with context.page("removing repositories Kolega no longer lists"):
        removed, _ = gone.delete()
    if removed:
        context.extra_details["repositories_removed"] = removed
    context.extra_details["repairs"] = repairs
    context.checkpoint(force=True)
