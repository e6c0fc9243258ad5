"""The events the syncs tell: a scan batch that became terminal, the findings a sync
brought that the mirror did not hold before (one summary per sync run, never one message per
finding), a connection whose syncs keep failing and a key Kolega rejected.

Each is recorded in the outbox (`notification_record`) in the transaction that writes the
change, under a dedupe key: a batch settles once, a run summarises once, so a re-sync or a
retried tracking step records nothing new.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.conf import settings
from django.db.models import Count

from triage.models import (
    Finding,
    Fix,
    KolegaConnection,
    PullRequest,
    ScanBatch,
    ScanBatchStatus,
    SyncState,
)
from triage.models.mirror import scan_status_is_terminal
from triage.models.notifications import (
    SEVERITY_ORDER,
    EventKind,
    NotificationRule,
    notification_record,
    rule_filter_key,
    rule_findings_q,
    rules_of,
    severity_at_least,
)

# New findings are counted for a filtered rule this many at a time.
COUNT_CHUNK = 5000


def scan_batch_settled(*, batch: ScanBatch, previous_status: str | None) -> None:
    """Record "scan batch finished/failed" when `batch` went from active to terminal.

    A batch first seen already terminal (an old batch on a connection's first sync) tells
    nothing: only a change the portal saw happen is news.
    """
    if previous_status is None or scan_status_is_terminal(previous_status):
        return
    if not scan_status_is_terminal(batch.status):
        return
    failed = batch.status.lower() == ScanBatchStatus.FAILED
    notification_record(
        team_id=batch.team_id,
        event_kind=EventKind.SCAN_FAILED if failed else EventKind.SCAN_FINISHED,
        dedupe_key=f"scan-batch:{batch.pk}:settled",
        data={
            "scan_batch": {
                "pk": batch.pk,
                "id": batch.upstream_id,
                "repository": batch.repository.name,
                "scan_type": batch.scan_type,
                "scan_type_label": batch.scan_type_label,
                "status": batch.status,
                "scans_completed": batch.scans_completed,
                "scans_failed": batch.scans_failed,
                "findings_count": batch.results_findings_count,
                "error_message": batch.error_message or "",
            }
        },
        scope={"repository_ids": [batch.repository_id], "scan_types": [batch.scan_type]},
    )


def fix_ready_tell(*, fix: Fix) -> None:
    """Record "fix ready for review" when a diff of a finished fix run is stored: once per
    diff (a refine that brings another diff is news again, a re-sync of the same one is not).

    Nothing on a connection's first sync: the fixes it finds finished are history, not news.
    """
    if not fix.diff or not fix.diff_sha256:
        return
    if not _synced_before(fix.connection_id):
        return
    notification_record(
        team_id=fix.team_id,
        event_kind=EventKind.FIX_READY,
        dedupe_key=f"fix:{fix.pk}:ready:{fix.diff_sha256}",
        data={
            "fix": {
                "pk": fix.pk,
                "id": fix.upstream_id,
                "title": fix.title,
                "repository": fix.repository.name,
                "findings_count": len(fix.finding_ids or []),
                "diff_sha256": fix.diff_sha256,
            }
        },
        scope={"repository_ids": [fix.repository_id]},
    )


def scan_batches_settled(*, batch_pks: Iterable[int], previous: dict[int, str]) -> None:
    """`scan_batch_settled` for each written batch the mirror held before as active."""
    watched = [
        pk for pk in batch_pks if pk in previous and not scan_status_is_terminal(previous[pk])
    ]
    if not watched:
        return
    for batch in ScanBatch.objects.filter(pk__in=watched).select_related("repository"):
        scan_batch_settled(batch=batch, previous_status=previous[batch.pk])


def findings_new_summary(
    *,
    team_id: int,
    run_pk: int,
    connection_name: str,
    by_severity: Counter,
    since_date: str,
    finding_pks: Sequence[int] = (),
) -> None:
    """Record one "new findings" summary of a sync run, with counts by severity.

    A rule filtered by repository, scan type or owner gets a summary of its own that counts
    only the new findings its filters keep (`finding_pks` are the run's new findings), under
    the run's key and the filters'. A minimum severity does not filter the counts: the
    summary goes to the rule when it holds at least one finding that severe.
    """
    if not sum(by_severity.values()):
        return
    groups: dict[str, list[NotificationRule]] = defaultdict(list)
    for rule in rules_of(team_id=team_id, event_kind=EventKind.FINDINGS_NEW):
        groups[rule_filter_key(rule, with_severity=False)].append(rule)
    for key, rules in groups.items():
        counts = by_severity
        if key:
            counts = _new_counts(rules[0], finding_pks)
        total = sum(counts.values())
        worst = next((str(level) for level in SEVERITY_ORDER if counts.get(str(level))), "")
        wanted = [rule for rule in rules if severity_at_least(worst, rule.min_severity)]
        if not total or not wanted:
            continue
        data = {
            "sync_run": run_pk,
            "connection": connection_name,
            "total": total,
            "by_severity": {severity: count for severity, count in counts.items() if count},
            "since_date": since_date,
        }
        if key:
            data["filters"] = rule_filters_data(rules[0], with_severity=False)
        notification_record(
            team_id=team_id,
            event_kind=EventKind.FINDINGS_NEW,
            dedupe_key=f"sync-run:{run_pk}:findings-new" + (f":{key}" if key else ""),
            severity=worst,
            data=data,
            rules=wanted,
        )


def _new_counts(rule: NotificationRule, finding_pks: Sequence[int]) -> Counter:
    """The new findings `rule`'s filters keep, by severity."""
    counts: Counter = Counter()
    q = rule_findings_q(rule, with_severity=False)
    pks = list(finding_pks)
    for start in range(0, len(pks), COUNT_CHUNK):
        chunk = pks[start : start + COUNT_CHUNK]
        for severity, count in (
            Finding.objects.filter(q, pk__in=chunk)
            .order_by()
            .values_list("severity")
            .annotate(count=Count("pk"))
        ):
            counts[str(severity).lower()] += count
    return counts


def rule_filters_data(rule: NotificationRule, *, with_severity: bool = True) -> dict:
    """What a summary for `rule` was filtered by, kept in its data: the message says it and
    links to the findings page filtered the same way."""
    repositories = sorted(rule.repositories.all(), key=lambda repository: repository.pk)
    filters: dict = {}
    if with_severity and rule.min_severity:
        filters["min_severity"] = rule.min_severity
    if repositories:
        filters["repository_ids"] = [repository.pk for repository in repositories]
        filters["repositories"] = [repository.name for repository in repositories]
    if rule.scan_type:
        filters["scan_type"] = rule.scan_type
    if rule.owner_squad_id:
        filters["squad_id"] = rule.owner_squad_id
        filters["owner"] = f"@{rule.owner_squad.name}"
    if rule.owner_member_id:
        filters["member_id"] = rule.owner_member_id
        filters["owner"] = f"@{rule.owner_member.get_username()}"
    return filters


def sync_failing_after() -> int:
    """How many failed syncs in a row make a connection "failing": one failure is often a
    passing outage the retries absorb."""
    return int(getattr(settings, "PORTAL_NOTIFY_SYNC_FAILING_AFTER", 3))


def connection_streak_record(
    *,
    connection: KolegaConnection,
    event_kind: str,
    last_success_at: datetime | None,
    **data: object,
) -> None:
    """Record an event of `connection`'s failure streak, once per streak. A streak is named by
    its connection and the last sync that succeeded before it: every failed run and retry of
    one streak shares the key, the next streak has another."""
    since = last_success_at.isoformat() if last_success_at else "never"
    notification_record(
        team_id=connection.team_id,
        event_kind=event_kind,
        dedupe_key=f"connection:{connection.pk}:streak-after:{since}:{event_kind}",
        data={
            "connection": {"pk": connection.pk, "name": connection.name},
            "last_success_at": last_success_at.isoformat() if last_success_at else None,
            **data,
        },
    )


def sync_failing_tell(
    *,
    connection: KolegaConnection,
    failures: int,
    last_success_at: datetime | None,
    error: str,
) -> None:
    """Record "sync failing" once per failure streak, when it reaches `sync_failing_after()`
    failures in a row; further failures and retries of the streak record nothing."""
    if failures < sync_failing_after():
        return
    connection_streak_record(
        connection=connection,
        event_kind=EventKind.SYNC_FAILING,
        last_success_at=last_success_at,
        failures=failures,
        error=error,
    )


def key_rejected_tell(
    *, connection: KolegaConnection, last_success_at: datetime | None, reason: str
) -> None:
    """Record "key rejected" when Kolega answers 401 and the connection is stopped: once per
    failure streak, however many syncs and tracking steps saw the 401."""
    connection_streak_record(
        connection=connection,
        event_kind=EventKind.KEY_REJECTED,
        last_success_at=last_success_at,
        reason=reason,
    )


def pull_requests_changed(
    *, connection: KolegaConnection, upstream_pks: dict[str, int], previous: dict[str, str]
) -> None:
    """Record "pull request opened / merged / closed" for the written pull requests whose
    state is news: a pull request the mirror did not hold (opened, or already merged or
    closed), or one whose merge status changed. Each is told once per state, however often
    a sync or the portal's own opening sees it again; nothing on a connection's first sync.
    """
    if not upstream_pks:
        return
    rows = list(
        PullRequest.objects.filter(pk__in=list(upstream_pks.values())).select_related(
            "fix__repository"
        )
    )
    changed = [
        pr
        for pr in rows
        if previous.get(pr.upstream_id) != pr.merge_status.lower()
        and pr.merge_status.lower() in PULL_REQUEST_EVENTS
    ]
    if not changed or not _synced_before(connection.pk):
        return
    for pr in changed:
        status = pr.merge_status.lower()
        fix = pr.fix
        pull_request = {"pk": pr.pk, "number": pr.pr_number, "url": pr.pr_url, "status": status}
        pull_request.update(repo_full_name=pr.repo_full_name, branch=pr.branch_name)
        pull_request["merged_at"] = pr.merged_at.isoformat() if pr.merged_at else None
        notification_record(
            team_id=pr.team_id,
            event_kind=PULL_REQUEST_EVENTS[status],
            dedupe_key=f"pull-request:{pr.pk}:{status}",
            data={
                "pull_request": pull_request,
                "fix": {"pk": fix.pk, "title": fix.title, "repository": fix.repository.name},
            },
            scope={"repository_ids": [fix.repository_id]},
        )


PULL_REQUEST_EVENTS = {
    PullRequest.MergeStatus.OPEN: EventKind.PULL_REQUEST_OPENED,
    PullRequest.MergeStatus.MERGED: EventKind.PULL_REQUEST_MERGED,
    PullRequest.MergeStatus.CLOSED: EventKind.PULL_REQUEST_CLOSED,
}


def _synced_before(connection_pk: int) -> bool:
    return SyncState.objects.filter(
        connection_id=connection_pk, last_success_at__isnull=False
    ).exists()


# Kolega's quota counters whose "remaining" a rule may watch.
QUOTA_COUNTERS = ("sast_scans", "deep_ai_scans", "prs")


def quota_low_tell(*, connection: KolegaConnection, reading: dict | None) -> None:
    """Record "quota below a threshold" for each counter whose remaining share of its size
    (plan and top-up) fell below a rule's threshold: once per quota period, counter and
    threshold, so a reading taken every few minutes tells the crossing once."""
    balance = (reading or {}).get("balance") or {}
    if not balance:
        return
    rules = rules_of(team_id=connection.team_id, event_kind=EventKind.QUOTA_LOW)
    by_threshold: dict[int, list[NotificationRule]] = defaultdict(list)
    for rule in rules:
        by_threshold[rule.threshold_percent].append(rule)
    for counter in QUOTA_COUNTERS:
        values = balance.get(counter) or {}
        size = (values.get("plan") or 0) + (values.get("topup") or 0)
        if size <= 0:
            continue
        remaining = max(values.get("remaining") or 0, 0)
        percent = remaining * 100 / size
        for threshold, group in sorted(by_threshold.items()):
            if percent >= threshold:
                continue
            notification_record(
                team_id=connection.team_id,
                event_kind=EventKind.QUOTA_LOW,
                dedupe_key=(
                    f"quota:{connection.pk}:{counter}:{balance.get('period_start', '')}"
                    f":below-{threshold}"
                ),
                data={
                    "connection": {"pk": connection.pk, "name": connection.name},
                    "counter": counter,
                    "remaining": remaining,
                    "size": size,
                    "used": values.get("used") or 0,
                    "remaining_percent": round(percent, 1),
                    "threshold_percent": threshold,
                    "period_start": balance.get("period_start"),
                    "period_end": balance.get("period_end"),
                },
                rules=group,
            )
