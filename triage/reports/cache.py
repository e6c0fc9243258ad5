"""Report figures kept between requests, under the version of the data they were computed from.

Two figures read every open or resolved finding of a team: the open counts behind the SLA,
repository and owner tables, and time to remediate (overall and per owner); one repository's
or one owner's trends replay its events. They are kept per team, scope and SLA policy under
the mirror's data version: the newest sync run that wrote (or is writing) rows, and the
newest audited write of the team (a person's change to the mirror goes through an audited
service).
Findings that tracking stores between syncs, when a scan finishes, come with finding events
that the next sync writes, which changes the version then. The entries only live a while
(`KEEP_SECONDS`) to bound the cache's memory.

Time still moves while the data stands still: SLA counts kept from one moment are moved on to
the request's moment by reading only the findings whose deadline passed in between
(`open_finding_stats_moved`), so they are exact to the second.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta

from django.core.cache import cache
from django.db.models import Q

from triage.models import AuditEvent, SlaPolicy, SyncRun, Team
from triage.selectors import reports as report_selectors
from triage.selectors.reports import (
    BY_OWNER,
    OpenStats,
    OwnerRow,
    RemediationTime,
    ReportOwner,
    ReportScope,
    Trends,
)

KEEP_SECONDS = 3600
# Sync runs are looked up this far back; older writes are older than any kept entry.
VERSION_WINDOW = timedelta(days=1)
# Bumped when the shape of a kept value changes.
FORMAT = 2


def mirror_version(*, team: Team, now: datetime) -> str:
    """Changes whenever a sync or an audited write touches the team's mirror."""
    run = (
        SyncRun.objects.filter(team=team, created_at__gte=now - VERSION_WINDOW)
        .filter(Q(rows_written__gt=0) | ~Q(kind=SyncRun.Kind.INCREMENTAL))
        .order_by("-created_at", "-id")
        .values_list("id", "rows_written", "status")
        .first()
    )
    audit = (
        AuditEvent.objects.filter(team=team)
        .order_by("-created_at", "-id")
        .values_list("id", flat=True)
        .first()
    )
    return f"{run}:{audit}"


def _key(kind: str, scope: ReportScope, version: str, *parts: object) -> str:
    repository = scope.repository.pk if scope.repository is not None else "all"
    owner = scope.owner.value if scope.owner is not None else "all"
    # The team's creation time too: a database restored or recreated under a cache that
    # outlived it reuses team ids and may have no runs or audit events yet.
    team = f"{scope.team.pk}:{scope.team.created_at.isoformat()}"
    raw = f"{FORMAT}:{team}:{version}:{repository}:{owner}:{':'.join(map(str, parts))}"
    digest = hashlib.sha256(raw.encode()).hexdigest()[:32]
    return f"reports:{kind}:{scope.team.pk}:{digest}"


def open_finding_stats(
    *,
    scope: ReportScope,
    policy: SlaPolicy,
    version: str,
    by: tuple[str, ...] = report_selectors.BY_REPOSITORY,
) -> dict[tuple, OpenStats]:
    """`report_selectors.open_finding_stats`, kept per data version and moved on in time."""
    key = _open_stats_key(scope=scope, policy=policy, version=version, by=by)
    kept = cache.get(key)
    if kept is not None:
        computed_at, stats = kept
        return report_selectors.open_finding_stats_moved(
            scope=scope, policy=policy, stats=stats, computed_at=computed_at, by=by
        )
    # The page shows both groupings: one pass over the open findings keeps both.
    both = report_selectors.BY_REPOSITORY_AND_OWNER
    finest = report_selectors.open_finding_stats(scope=scope, policy=policy, by=both)
    answer = report_selectors.open_stats_rolled(finest, of=both, by=by)
    for grouping in (report_selectors.BY_REPOSITORY, report_selectors.BY_OWNER):
        stats = (
            answer
            if grouping == by
            else report_selectors.open_stats_rolled(finest, of=both, by=grouping)
        )
        cache.set(
            _open_stats_key(scope=scope, policy=policy, version=version, by=grouping),
            (scope.now, stats),
            KEEP_SECONDS,
        )
    return answer


def _open_stats_key(
    *, scope: ReportScope, policy: SlaPolicy, version: str, by: tuple[str, ...]
) -> str:
    kind = "open" if by == report_selectors.BY_REPOSITORY else f"open-{'-'.join(by)}"
    return _key(kind, scope, version, sorted(policy.days.items()))


def time_to_remediate(*, scope: ReportScope, version: str) -> list[RemediationTime]:
    """`report_selectors.time_to_remediate`, kept per data version and period.

    A period that runs until now ends later on every request, but a finding resolved since
    the figure was kept came with a sync or a write, which changed the version.
    """
    key = _key("ttr", scope, version, scope.first_day, scope.last_day)
    kept = cache.get(key)
    if kept is None:
        kept = report_selectors.time_to_remediate(scope=scope)
        cache.set(key, kept, KEEP_SECONDS)
    return kept


def owner_breakdown(
    *,
    scope: ReportScope,
    policy: SlaPolicy,
    version: str,
    owners: dict[str, ReportOwner] | None = None,
) -> list[OwnerRow]:
    """`report_selectors.owner_breakdown` from kept figures: the open-finding stats by owner
    (moved on in time as the SLA counts are) and the owners' time to remediate (kept per
    period, as `time_to_remediate`); `owners` are the team's (`team_owners`), when known."""
    stats = open_finding_stats(scope=scope, policy=policy, version=version, by=BY_OWNER)
    key = _key("ttr-owner", scope, version, scope.first_day, scope.last_day)
    remediation = cache.get(key)
    if remediation is None:
        remediation = report_selectors.owner_remediation(scope)
        cache.set(key, remediation, KEEP_SECONDS)
    return report_selectors.owner_breakdown(
        scope=scope, policy=policy, stats=stats, remediation=remediation, owners=owners
    )


def trends(
    *,
    scope: ReportScope,
    version: str,
    snapshots_rebuilt_at: datetime | None,
    mirror_from: date | None = None,
    kept_from: date | None,
) -> Trends:
    """`report_selectors.trends`, kept per data version, period, snapshot rebuild and the day
    from which the flows are read from the mirror (the team's trends are read from the
    snapshots; one repository's are replayed from events, from `kept_from` on)."""
    key = _key(
        "trends",
        scope,
        version,
        snapshots_rebuilt_at,
        scope.first_day,
        scope.last_day,
        mirror_from,
        kept_from,
    )
    kept = cache.get(key)
    if kept is None:
        kept = report_selectors.trends(scope=scope, mirror_from=mirror_from, kept_from=kept_from)
        cache.set(key, kept, KEEP_SECONDS)
    return kept
