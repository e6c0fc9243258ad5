"""Read side of the team dashboard: a handful of grouped queries over the mirror, whatever the
number of findings or repositories."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import F, Sum, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from triage.models import (
    Finding,
    FindingCount,
    KolegaConnection,
    PullRequest,
    Repository,
    ScanBatch,
    ScanType,
    Severity,
    SyncRun,
    SyncState,
    Team,
)
from triage.selectors.scans import decorate_batch

# The most exposed repositories; the rest are one click away in findings triage.
DASHBOARD_REPOSITORY_LIMIT = 25


@dataclass(frozen=True)
class ConnectionFreshness:
    connection: KolegaConnection
    last_success_at: datetime | None
    last_error: str
    last_error_at: datetime | None

    @property
    def failing(self) -> bool:
        return bool(self.last_error_at) and (
            self.last_success_at is None or self.last_error_at > self.last_success_at
        )


@dataclass(frozen=True)
class MirrorFreshness:
    connections: list[ConnectionFreshness]
    # The oldest last successful sync of the team's active connections: everything shown is
    # at least this fresh.
    data_as_of: datetime | None
    first_sync_pending: bool
    first_sync_run: SyncRun | None

    @property
    def has_connection(self) -> bool:
        return bool(self.connections)

    @property
    def failing(self) -> list[ConnectionFreshness]:
        return [c for c in self.connections if c.failing]


def mirror_freshness(*, team: Team) -> MirrorFreshness:
    connections = list(KolegaConnection.objects.filter(team=team).order_by("name"))
    states = {
        state.connection_id: state
        for state in SyncState.objects.filter(connection__team=team).only(
            "connection_id", "last_success_at", "last_error", "last_error_at"
        )
    }
    rows = []
    for connection in connections:
        state = states.get(connection.pk)
        rows.append(
            ConnectionFreshness(
                connection=connection,
                last_success_at=state.last_success_at if state else None,
                last_error=state.last_error if state else "",
                last_error_at=state.last_error_at if state else None,
            )
        )
    active = [row for row in rows if row.connection.is_active]
    synced = [row.last_success_at for row in active if row.last_success_at]
    first_sync_pending = bool(connections) and not any(row.last_success_at for row in rows)
    run = None
    if first_sync_pending:
        run = (
            SyncRun.objects.filter(team=team)
            .select_related("connection")
            .order_by("-created_at", "-id")
            .first()
        )
    return MirrorFreshness(
        connections=rows,
        data_as_of=min(synced) if synced and len(synced) == len(active) else None,
        first_sync_pending=first_sync_pending,
        first_sync_run=run,
    )


@dataclass(frozen=True)
class RepositoryRef:
    pk: int
    name: str


@dataclass
class RepositoryRow:
    repository: RepositoryRef
    open_by_severity: dict[str, int] = field(default_factory=dict)
    last_scans: dict[str, ScanBatch] = field(default_factory=dict)

    @property
    def open_total(self) -> int:
        return sum(self.open_by_severity.values())

    def severity_cells(self) -> list[tuple[str, int]]:
        return [(severity, self.open_by_severity.get(severity, 0)) for severity in Severity.values]

    def scan_cells(self) -> list[tuple[str, ScanBatch | None]]:
        return [(scan_type, self.last_scans.get(scan_type)) for scan_type in ScanType.values]

    def sort_key(self):
        return (
            *(-self.open_by_severity.get(severity, 0) for severity in Severity.values),
            self.repository.name,
        )


@dataclass(frozen=True)
class RepositoryOverview:
    rows: list[RepositoryRow]
    total_repositories: int
    open_by_severity: list[tuple[str, int]]

    @property
    def hidden(self) -> int:
        return self.total_repositories - len(self.rows)

    @property
    def severity_columns(self) -> list[str]:
        return Severity.labels

    @property
    def scan_type_columns(self) -> list[str]:
        return ScanType.labels


def open_findings_counts(*, team: Team) -> list[tuple[int, str, int]]:
    """(repository pk, severity, open findings), summed from the counts the database keeps
    (`FindingCount`: exact, a few rows per group, whatever the number of findings). "Open" is
    what the reports count too: every finding that still needs work
    (`Finding.objects.unresolved`)."""
    return list(
        FindingCount.objects.filter(team_id=team.pk, status__in=Finding.UNRESOLVED_STATUSES)
        .values_list("repository_id", "severity")
        .annotate(n=Sum("n"))
        .filter(n__gt=0)
        .order_by()
    )


def last_scans(*, team: Team, repository_ids: list[int]) -> list[ScanBatch]:
    """The newest batch of each repository × scan type, in one windowed query."""
    ranked = (
        ScanBatch.objects.filter(team=team, repository_id__in=repository_ids)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("repository_id"), F("scan_type")],
                order_by=[F("created_at").desc(), F("id").desc()],
            )
        )
        .filter(rank=1)
        .only(
            "id",
            "repository_id",
            "scan_type",
            "status",
            "created_at",
            "completed_at",
            "percent_complete",
            "results_findings_count",
            "findings_synced_at",
            "next_poll_at",
        )
    )
    return list(ranked)


def repository_overview(
    *, team: Team, limit: int = DASHBOARD_REPOSITORY_LIMIT
) -> RepositoryOverview:
    """Per repository: open findings by severity and the last scan of each type; the most
    exposed repositories first."""
    # Plain tuples: every repository is ranked, only the shown ones are displayed.
    repositories = {
        pk: RepositoryRow(repository=RepositoryRef(pk=pk, name=name))
        for pk, name in Repository.objects.filter(team=team, archived=False).values_list(
            "pk", "name"
        )
    }
    totals = dict.fromkeys(Severity.values, 0)
    for repository_id, severity, count in open_findings_counts(team=team):
        totals[severity] = totals.get(severity, 0) + count
        row = repositories.get(repository_id)
        if row is not None:
            row.open_by_severity[severity] = count
    shown = sorted(repositories.values(), key=RepositoryRow.sort_key)[:limit]
    by_pk = {row.repository.pk: row for row in shown}
    for batch in last_scans(team=team, repository_ids=list(by_pk)):
        decorate_batch(batch)
        # Formatted here once: hundreds of cells through the date filter cost more than the
        # queries of the page.
        created = timezone.localtime(batch.created_at)
        batch.created_iso = created.isoformat()
        batch.created_text = created.strftime("%d %b %Y, %H:%M")
        by_pk[batch.repository_id].last_scans[batch.scan_type] = batch
    return RepositoryOverview(
        rows=shown,
        total_repositories=len(repositories),
        open_by_severity=[
            (severity, count)
            for severity, count in totals.items()
            if count or severity != Severity.INFO
        ],
    )


def recent_pull_requests(*, team: Team, limit: int = 10) -> list[PullRequest]:
    return list(
        PullRequest.objects.filter(team=team)
        .select_related("fix", "fix__repository")
        .order_by("-created_at", "-id")[:limit]
    )
