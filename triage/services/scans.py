"""Starting scan batches, and the quota balance that decides whether they may be started.

The balance is Kolega's, not the mirror's: it is fetched when a person looks at it and kept
for a short while so that ticking checkboxes on the form does not call Kolega every time.
Starting scans always asks Kolega afresh.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from triage import kolega
from triage.clients import kolega_client_for
from triage.models import (
    KolegaConnection,
    LabelOf,
    Repository,
    Role,
    ScanBatch,
    ScanType,
    Team,
    label_of,
)
from triage.services.audit import audit_log
from triage.services.errors import ServiceError
from triage.services.kolega_errors import QUOTA_LABELS, describe_kolega_error
from triage.services.teams import require_role
from triage.sync import scan_batch_mirror
from triage.sync.quota import QuotaMeter
from triage.task_queue import TaskName, task_send

logger = logging.getLogger("triage.services.scans")

COUNTER_BY_SCAN_TYPE = {
    ScanType.SECRETS: "sast_scans",
    ScanType.CODE: "sast_scans",
    ScanType.DEPENDENCIES: "sast_scans",
    ScanType.DEEP_AI: "deep_ai_scans",
}
QUOTA_CACHE_SECONDS = 30


def _cache_key(connection: KolegaConnection) -> str:
    return f"triage:quota-balance:{connection.pk}:{connection.organization_id}"


def quota_balance_get(*, connection: KolegaConnection, fresh: bool = False) -> kolega.QuotaBalance:
    """The connection's quota balance, from a cache of a few seconds unless ``fresh``.

    Raises the client's `KolegaError` when Kolega cannot answer; nothing is cached then.
    """
    key = _cache_key(connection)
    if not fresh:
        cached = cache.get(key)
        if cached is not None:
            return kolega.QuotaBalance.model_validate(cached)
    with kolega_client_for(connection, interactive=True) as client:
        balance = client.quota_balance()
    cache.set(key, balance.model_dump(mode="json"), QUOTA_CACHE_SECONDS)
    return balance


def quota_balance_forget(*, connection: KolegaConnection) -> None:
    cache.delete(_cache_key(connection))


@dataclass(frozen=True)
class CounterDemand:
    """What starting the chosen scans would take from one counter of one connection."""

    counter: str
    label: str
    needed: int
    plan: int
    topup: int
    used: int
    remaining: int
    period_end: datetime

    @property
    def total(self) -> int:
        return self.plan + self.topup

    @property
    def after(self) -> int:
        return self.remaining - self.needed

    @property
    def exhausted(self) -> bool:
        return self.needed > self.remaining

    def refusal(self, connection_name: str) -> str:
        ends = timezone.localtime(self.period_end).strftime("%Y-%m-%d %H:%M %Z")
        return (
            f"{connection_name}: these scans need {self.needed} {self.label} but only "
            f"{self.remaining} remain this period. The period ends {ends}."
        )


@dataclass
class ConnectionQuota:
    """One connection's balance (or why it could not be read) and the demand on it."""

    connection: KolegaConnection
    balance: kolega.QuotaBalance | None = None
    error: str = ""
    demands: list[CounterDemand] = field(default_factory=list)

    @property
    def exhausted(self) -> list[CounterDemand]:
        return [demand for demand in self.demands if demand.exhausted]

    def meters(self) -> list[QuotaMeter]:
        """The period's counters, for `<meter>`s that turn amber, then red, as they fill."""
        if self.balance is None:
            return []
        meters = []
        for counter in ("sast_scans", "deep_ai_scans", "prs"):
            value: kolega.QuotaCounter = getattr(self.balance, counter)
            total = value.plan + value.topup
            meters.append(
                QuotaMeter(
                    label=_capitalized(QUOTA_LABELS.get(counter, counter)),
                    used=value.used,
                    total=total,
                    remaining=value.remaining,
                )
            )
        repositories = self.balance.repositories
        if repositories.max:
            meters.append(
                QuotaMeter(
                    label="Repositories",
                    used=repositories.current,
                    total=repositories.max,
                    remaining=max(0, repositories.max - repositories.current),
                )
            )
        return meters


def _capitalized(label: str) -> str:
    return label[:1].upper() + label[1:]


def scan_demand(
    *, repositories: Iterable[Repository], scan_types: Sequence[str]
) -> dict[int, Counter[str]]:
    """Units per counter per connection id that one batch per repository × type draws."""
    demand: dict[int, Counter[str]] = defaultdict(Counter)
    for repository in repositories:
        for scan_type in scan_types:
            demand[repository.connection_id][COUNTER_BY_SCAN_TYPE[scan_type]] += 1
    return demand


def quota_check(
    *,
    connections: Iterable[KolegaConnection],
    demand: dict[int, Counter[str]],
    fresh: bool = False,
) -> list[ConnectionQuota]:
    """Each connection's balance against what the chosen scans would draw from it."""
    checked = []
    for connection in connections:
        quota = ConnectionQuota(connection=connection)
        try:
            quota.balance = quota_balance_get(connection=connection, fresh=fresh)
        except kolega.KolegaError as exc:
            quota.error = describe_kolega_error(exc)
            checked.append(quota)
            continue
        for counter, needed in sorted(demand.get(connection.pk, Counter()).items()):
            value: kolega.QuotaCounter = getattr(quota.balance, counter)
            quota.demands.append(
                CounterDemand(
                    counter=counter,
                    label=QUOTA_LABELS.get(counter, counter),
                    needed=needed,
                    plan=value.plan,
                    topup=value.topup,
                    used=value.used,
                    remaining=value.remaining,
                    period_end=quota.balance.period_end,
                )
            )
        checked.append(quota)
    return checked


@dataclass(frozen=True)
class ScanStartOutcome:
    """One repository × scan type of a request to start scans."""

    repository: Repository
    scan_type: str
    batch: ScanBatch | None = None
    error: str = ""

    @property
    def started(self) -> bool:
        return self.batch is not None

    scan_type_label = LabelOf(ScanType, "scan_type")


def scan_batches_start(
    *, team: Team, actor, repository_ids: Sequence[int], scan_types: Sequence[str]
) -> list[ScanStartOutcome]:
    """Start one scan batch per repository × scan type, and track each one.

    Checks the quota of every connection involved first and sends nothing when a counter
    would run out. Then each batch is asked of Kolega; a batch Kolega started is mirrored at
    once, audited, and tracked by a task queued on commit. A refusal midway (quota used up by
    someone else meanwhile, key revoked, Kolega down) is reported for that pair and the rest
    of its connection; batches already started are kept.
    """
    require_role(team=team, user=actor, role=Role.TRIAGER)
    repositories = _repositories_to_scan(
        team=team, repository_ids=repository_ids, scan_types=scan_types
    )
    connections = {repository.connection_id: repository.connection for repository in repositories}
    _scan_start_check(connections=connections, repositories=repositories, scan_types=scan_types)

    outcomes: list[ScanStartOutcome] = []
    # Once Kolega refuses a connection for a reason that will not change in the next second
    # (its key, its quota, it being down), the remaining pairs of it are not sent.
    stopped: dict[tuple[int, str | None], str] = {}
    for connection_id, connection in connections.items():
        with kolega_client_for(connection, interactive=True) as client:
            for repository in (r for r in repositories if r.connection_id == connection_id):
                for scan_type in scan_types:
                    counter = COUNTER_BY_SCAN_TYPE[scan_type]
                    reason = stopped.get((connection_id, None)) or stopped.get(
                        (connection_id, counter)
                    )
                    if reason:
                        outcomes.append(
                            ScanStartOutcome(repository, scan_type, error=f"Not sent: {reason}")
                        )
                        continue
                    outcomes.append(
                        _start_one(
                            team=team,
                            actor=actor,
                            client=client,
                            repository=repository,
                            scan_type=scan_type,
                            stopped=stopped,
                        )
                    )
        quota_balance_forget(connection=connection)
    return outcomes


def _repositories_to_scan(
    *, team: Team, repository_ids: Sequence[int], scan_types: Sequence[str]
) -> list[Repository]:
    unknown_types = sorted(set(scan_types) - set(COUNTER_BY_SCAN_TYPE))
    if unknown_types or not scan_types:
        raise ServiceError("Choose at least one known scan type.", field="scan_types")
    repositories = list(
        Repository.objects.filter(team=team, archived=False, pk__in=repository_ids)
        .select_related("connection")
        .order_by("name", "id")
    )
    if not repositories or len(repositories) != len(set(repository_ids)):
        raise ServiceError("Choose repositories of this team.", field="repositories")
    return repositories


def _scan_start_check(
    *,
    connections: dict[int, KolegaConnection],
    repositories: list[Repository],
    scan_types: Sequence[str],
) -> None:
    """Refuse the whole start, before anything is sent, when a connection cannot write or a
    quota counter would run out."""
    for connection in connections.values():
        if not connection.is_active:
            raise ServiceError(
                f"{connection.name} is {connection.get_state_display().lower()}; "
                "nothing was started."
            )
        if not connection.can_write:
            raise ServiceError(
                f"The key of {connection.name} may only read; nothing was started. "
                "An admin can connect a key with the write scope."
            )
    demand = scan_demand(repositories=repositories, scan_types=scan_types)
    for quota in quota_check(connections=connections.values(), demand=demand, fresh=True):
        if quota.error:
            raise ServiceError(f"{quota.connection.name}: {quota.error}")
        if quota.exhausted:
            raise ServiceError(
                " ".join(d.refusal(quota.connection.name) for d in quota.exhausted)
                + " Nothing was started."
            )


def _start_one(
    *,
    team: Team,
    actor,
    client: kolega.KolegaClient,
    repository: Repository,
    scan_type: str,
    stopped: dict[tuple[int, str | None], str],
) -> ScanStartOutcome:
    connection = repository.connection
    try:
        started = client.create_scan(repository_id=repository.upstream_id, scan_type=scan_type)
    except kolega.KolegaError as exc:
        message = describe_kolega_error(exc)
        if isinstance(exc, kolega.KolegaQuotaExceeded):
            stopped[(connection.pk, exc.quota_type)] = message
        elif isinstance(exc, kolega.KolegaAuthError | kolega.KolegaUnavailable):
            stopped[(connection.pk, None)] = message
        logger.info(
            "scan start refused: team=%s repository=%s type=%s: %r",
            team.pk,
            repository.pk,
            scan_type,
            exc,
        )
        return ScanStartOutcome(repository, scan_type, error=message)
    with transaction.atomic():
        batch = scan_batch_mirror(connection=connection, batch=started)
        audit_log(
            team=team,
            actor=actor,
            action="scan.start",
            target=batch,
            target_label=f"{label_of(ScanType, scan_type)} of {repository.name}",
            details={
                "repository": repository.name,
                "scan_type": scan_type,
                "batch_id": started.batch_id,
                "connection": connection.name,
            },
        )
        transaction.on_commit(lambda pk=batch.pk: task_send(TaskName.TRACK_SCAN_BATCH, pk))
    return ScanStartOutcome(repository, scan_type, batch=batch)
