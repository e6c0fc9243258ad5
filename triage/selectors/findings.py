"""Read side of findings triage: the filtered, sorted, keyset-paginated table and a finding's
page. Reads come from the mirror only."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, partial
from typing import NamedTuple

from django.db import connections, router
from django.db.models import (
    Case,
    CharField,
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from triage.models import (
    Finding,
    FindingEvent,
    FindingStatus,
    FindingStatusJob,
    Fix,
    LabelOf,
    Membership,
    Repository,
    SavedView,
    Severity,
    SlaPolicy,
    Squad,
    Team,
)
from triage.selectors import json_list_contains
from triage.weblinks import web_url

PAGE_SIZE = 50
# Counting every match of a broad filter over a large mirror costs more than the page itself;
# past this many the table says "10,000+".
COUNT_LIMIT = 10_000

SEVERITY_RANK = Case(
    When(severity="critical", then=Value(5)),
    When(severity="high", then=Value(4)),
    When(severity="medium", then=Value(3)),
    When(severity="low", then=Value(2)),
    default=Value(1),
    output_field=IntegerField(),
)

# A severity without SLA days (info) is due this long after its first detection: last in line.
NO_SLA_DAYS = 36_500


def sla_due(days: Mapping[str, int]) -> Case:
    """When a finding's SLA runs out: its first detection plus its severity's days."""
    return Case(
        *(
            When(severity=severity, then=F("first_detected_at") + timedelta(days=count))
            for severity, count in days.items()
        ),
        default=F("first_detected_at") + timedelta(days=NO_SLA_DAYS),
        output_field=DateTimeField(),
    )


@dataclass(frozen=True)
class Sort:
    label: str
    column: str  # a field or the severity_rank annotation
    descending: bool


# Every sort ends on the primary key in the same direction, so one row-value comparison
# `(column, id) < (value, id)` continues after any row.
SORTS: dict[str, Sort] = {
    "severity": Sort("Most severe first", "severity_rank", True),
    "-severity": Sort("Least severe first", "severity_rank", False),
    "age": Sort("Oldest first", "first_detected_at", False),
    "-age": Sort("Newest first", "first_detected_at", True),
    "last_detected": Sort("Last seen, newest first", "last_detected_at", True),
    "-last_detected": Sort("Last seen, oldest first", "last_detected_at", False),
    "sla": Sort("SLA due, soonest first", "sla_due_at", False),
    "-sla": Sort("SLA due, latest first", "sla_due_at", True),
    "file": Sort("File, A to Z", "file_path", False),
    "-file": Sort("File, Z to A", "file_path", True),
}
DEFAULT_SORT = "severity"


class RowRepository(NamedTuple):
    pk: int
    name: str


class RowMember(NamedTuple):
    pk: int
    username: str


class RowSquad(NamedTuple):
    pk: int
    name: str


class TableRow:
    """A finding as the table shows it, read as values: building 50 findings with their
    repository and owners as model instances costs more than the rest of the query. It has a
    Finding's names for what the table reads, so the row builder takes either."""

    # With the page's sort key (for its cursor), and the row's HTML or link once built.
    __slots__ = (
        "check_id",
        "file_path",
        "first_detected_at",
        "html",
        "last_detected_at",
        "owner_explicit",
        "owner_member",
        "owner_squad",
        "pk",
        "repository",
        "repository_id",
        "severity",
        "severity_rank",
        "sla_due_at",
        "status",
        "title",
        "url",
    )

    def __init__(self, values: tuple, sort_value=None, sort_column: str = "") -> None:
        (
            self.pk,
            self.severity,
            self.status,
            self.title,
            self.check_id,
            self.file_path,
            self.first_detected_at,
            self.last_detected_at,
            self.repository_id,
            repository_name,
            self.owner_explicit,
            member_id,
            member_username,
            squad_id,
            squad_name,
        ) = values
        self.repository = RowRepository(self.repository_id, repository_name)
        self.owner_member = None if member_id is None else RowMember(member_id, member_username)
        self.owner_squad = None if squad_id is None else RowSquad(squad_id, squad_name)
        self.severity_rank = sort_value if sort_column == "severity_rank" else None
        self.sla_due_at = sort_value if sort_column == "sla_due_at" else None

    @property
    def id(self) -> int:
        return self.pk

    severity_label = LabelOf(Severity, "severity")

    status_label = LabelOf(FindingStatus, "status")


# What a TableRow is read from, in its order.
ROW_VALUES = (
    "pk",
    "severity",
    "status",
    "title",
    "check_id",
    "file_path",
    "first_detected_at",
    "last_detected_at",
    "repository_id",
    "repository__name",
    "owner_explicit",
    "owner_member_id",
    "owner_member__username",
    "owner_squad_id",
    "owner_squad__name",
)


def sort_of(value: str | None) -> str:
    return value if value in SORTS else DEFAULT_SORT


def findings_for_team(*, team: Team) -> QuerySet[Finding]:
    return Finding.objects.filter(team=team)


# My queue: the open findings assigned to a person or to one of their squads.
QUEUE_COUNT_LIMIT = 999
QUEUE_PREVIEW_SIZE = 5


def squad_ids_of(*, team: Team, user) -> list[int]:
    return list(Squad.objects.filter(team=team, members__user=user).values_list("pk", flat=True))


def mine(queryset: QuerySet[Finding], *, team: Team, user, squad_ids=None) -> QuerySet[Finding]:
    """``queryset`` narrowed to the findings assigned to ``user`` or to one of their squads
    (``squad_ids``: the squads, as a list or a subquery; looked up when not given)."""
    if squad_ids is None:
        squad_ids = squad_ids_of(team=team, user=user)
    return queryset.filter(Q(owner_member=user) | Q(owner_squad__in=squad_ids))


def my_queue(*, team: Team, user, squad_ids=None) -> QuerySet[Finding]:
    """The open findings of ``team`` assigned to ``user`` or to one of their squads."""
    return mine(
        findings_for_team(team=team).unresolved(), team=team, user=user, squad_ids=squad_ids
    )


@dataclass(frozen=True)
class CountSql:
    """A scalar SQL expression that counts rows (up to a limit), with its parameters: a page
    reads its count in its own query (a column of every row), not in one more."""

    sql: str
    params: list

    def read(self, using: str) -> int:
        """The count, in a query of its own (a page with no rows to carry it)."""
        with connections[using].cursor() as cursor:
            cursor.execute(f"SELECT {self.sql}", self.params)
            return cursor.fetchone()[0]


def limited_count(queryset: QuerySet[Finding], limit: int) -> CountSql:
    """How many rows ``queryset`` holds, counted up to ``limit``."""
    sql, params = queryset.order_by().values("pk")[:limit].query.sql_with_params()
    return CountSql(f"(SELECT COUNT(*) FROM ({sql}) part)", list(params))


def mine_count(queryset: QuerySet[Finding], *, user, squad_ids: list[int], limit: int) -> CountSql:
    """How many of ``queryset`` (the open findings, filtered) are ``user``'s or their squads'
    (``squad_ids``), counted up to ``limit`` (past it, some number at least ``limit``), by three
    bounded counts: the user's own, their squads' and their squads' that are also their own.
    Each is one index's range (the indexes of open findings by member and by squad), where
    counting the OR of the two walks every open finding of the team until ``limit`` of them
    match. A count that reaches ``limit`` makes the sum reach it too."""
    own = limited_count(queryset.filter(owner_member=user), limit)
    if not squad_ids:
        return own
    of_squads = queryset.filter(owner_squad__in=squad_ids)
    squads = limited_count(of_squads, limit)
    both = limited_count(of_squads.filter(owner_member=user), limit)
    return CountSql(
        f"({own.sql} + {squads.sql} - {both.sql})", own.params + squads.params + both.params
    )


def queue_count_label(count: int) -> str:
    """The navigation's count: nothing for an empty queue, "999+" past the limit."""
    if count > QUEUE_COUNT_LIMIT:
        return f"{QUEUE_COUNT_LIMIT}+"
    return str(count) if count else ""


def my_queue_count(*, team_id: int, user) -> int:
    """How many findings are in the user's queue, up to ``QUEUE_COUNT_LIMIT + 1``, in one
    query: the navigation shows it on every page. The user's own, then their squads' that are
    not their own (the squads a subquery): two disjoint parts, each read from its index of
    open findings, so the count stops at the limit (an OR of the two reads every open finding
    of the team; a UNION that removes duplicates reads every finding in the queue)."""
    open_findings = Finding.objects.filter(team_id=team_id).unresolved().order_by()
    squads = Squad.objects.filter(team_id=team_id, members__user=user).values("pk")
    own = open_findings.filter(owner_member=user).values("pk")
    of_squads = open_findings.filter(owner_squad__in=squads).exclude(owner_member=user)
    return own.union(of_squads.values("pk"), all=True)[: QUEUE_COUNT_LIMIT + 1].count()


@dataclass
class QueueSummary:
    total: int
    past_sla: int
    due_this_week: int
    first: list[TableRow]


def my_queue_summary(*, team: Team, user, sla_days: Mapping[str, int]) -> QueueSummary:
    """The dashboard's "My queue" card: how many, how many past their SLA, how many fall due
    within seven days, and the first few by SLA due date (two queries and the squads')."""
    now = timezone.now()
    queryset = my_queue(team=team, user=user).annotate(sla_due_at=sla_due(sla_days))
    counts = queryset.aggregate(
        total=Count("pk"),
        past_sla=Count("pk", filter=Q(sla_due_at__lt=now)),
        due_this_week=Count(
            "pk", filter=Q(sla_due_at__gte=now, sla_due_at__lt=now + timedelta(days=7))
        ),
    )
    first = [
        TableRow(values[:-1], values[-1], "sla_due_at")
        for values in queryset.order_by("sla_due_at", "pk").values_list(*ROW_VALUES, "sla_due_at")[
            :QUEUE_PREVIEW_SIZE
        ]
    ]
    return QueueSummary(first=first, **counts)


@dataclass
class FindingsPage:
    rows: list[TableRow]
    count: int
    count_is_lower_bound: bool
    next_cursor: str | None
    previous_cursor: str | None
    is_first: bool

    @property
    def count_label(self) -> str:
        return f"{self.count:,}+" if self.count_is_lower_bound else f"{self.count:,}"


def _encode_cursor(direction: str, sort: Sort, row: Finding) -> str:
    value = getattr(row, sort.column)
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps([direction, value, row.pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: Sort) -> tuple[str, object, int] | None:
    """The position a cursor points at, or None for a cursor that is not ours (start over)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        direction, value, pk = json.loads(raw)
    except (binascii.Error, ValueError, TypeError, RecursionError):
        return None
    # A cursor comes from the URL: anything a database column cannot hold starts over.
    if direction not in ("after", "before") or not isinstance(pk, int) or not 0 <= pk < 2**63:
        return None
    if sort.column in ("first_detected_at", "last_detected_at", "sla_due_at"):
        try:
            value = parse_datetime(value) if isinstance(value, str) else None
        except ValueError:
            value = None
        if value is not None and value.tzinfo is None:
            value = None
    elif sort.column == "severity_rank":
        value = value if isinstance(value, int) and 0 <= value <= 10 else None
    elif not isinstance(value, str):
        value = None
    return None if value is None else (direction, value, pk)


def _deferred_rows(rows_query: QuerySet[Finding], order: list, size: int, **sort_key) -> QuerySet:
    """The rows of a page: its ids are found over narrow rows (ids and the sort key, no
    joins), then only the page's rows are read whole and joined to their repository and
    owners.

    Read in one query with the joins, a page relies on the planner walking the sort's index:
    past a value many findings share (every finding a scan saw again has the same "last
    seen"), PostgreSQL estimates that almost nothing follows the cursor, joins and sorts
    every matching row, and a later page costs hundreds of milliseconds. The id walk alone
    stops after ``size`` rows whatever it estimates. An order no index holds (the SLA due
    date on a database without `_sla_rows`) sorts the narrow rows only."""
    ids = rows_query.values("pk")[:size]
    return Finding.objects.filter(pk__in=ids).annotate(**sort_key).order_by(*order)


def _sla_page_sql(
    queryset: QuerySet[Finding],
    days: Mapping[str, int],
    *,
    descending: bool,
    position: tuple[str, object, int] | None,
    size: int,
) -> tuple[str, list]:
    """The SQL of a page's (sla_due_at, pk) pairs in SLA-due order, for PostgreSQL: it walks
    the mirror severity by severity, as within one severity the due date follows the first
    detection, so each severity's next rows are a walk of an index on (…, severity,
    first_detected_at, id) that stops after ``size`` rows, and the page is the first ``size``
    of those few. No row outside the page's reach is read or sorted, which ordering every
    matching row by a date worked out per row would do.

    The filtered query is built and compiled once, with the severity and its SLA shift read
    from a VALUES list beside it (``LATERAL``), not once per severity."""
    compare = TupleLessThan if descending else TupleGreaterThan
    direction = "DESC" if descending else "ASC"
    order = (
        [F("first_detected_at").desc(), F("pk").desc()]
        if descending
        else ["first_detected_at", "pk"]
    )
    shift = RawSQL("sla.shift", (), output_field=DurationField())
    part = queryset.filter(severity=RawSQL("sla.severity", (), output_field=CharField()))
    if position is not None:
        _, value, pk = position
        after = RawSQL("%s - sla.shift", (value,), output_field=DateTimeField())
        part = part.filter(compare(Tuple(F("first_detected_at"), F("pk")), (after, pk)))
    due = ExpressionWrapper(F("first_detected_at") + shift, output_field=DateTimeField())
    part = part.annotate(sla_due_at=due).order_by(*order).values_list("sla_due_at", "pk")
    part_sql, part_params = part[:size].query.sql_with_params()
    shifts = [
        (severity, timedelta(days=days.get(severity, NO_SLA_DAYS))) for severity in Severity.values
    ]
    sql = (
        "SELECT page.sla_due_at, page.pk FROM (VALUES "
        + ", ".join(["(%s, %s::interval)"] * len(shifts))
        + f") AS sla (severity, shift) CROSS JOIN LATERAL ({part_sql}) AS page"
        + f" ORDER BY 1 {direction}, 2 {direction} LIMIT %s"
    )
    params = [value for pair in shifts for value in pair] + [*part_params, size]
    return sql, params


def _rows(
    queryset: QuerySet[Finding],
    days: Mapping[str, int],
    *,
    sort: Sort,
    descending: bool,
    position: tuple[str, object, int] | None,
    size: int,
    count: CountSql,
) -> tuple[list[TableRow], int | None]:
    """Up to ``size`` rows from ``position`` on, in ``sort`` order (``descending`` or not), and
    ``count`` read with them (None without rows to carry it)."""
    sort_key = {}
    if sort.column == "severity_rank":
        sort_key = {"severity_rank": SEVERITY_RANK}
    elif sort.column == "sla_due_at":
        sort_key = {"sla_due_at": sla_due(days)}
    rows = queryset.annotate(**sort_key)
    order = [F(sort.column).desc(), F("pk").desc()] if descending else [sort.column, "pk"]
    rows = rows.order_by(*order)
    if position is not None:
        _, value, pk = position
        compare = TupleLessThan if descending else TupleGreaterThan
        rows = rows.filter(compare(Tuple(F(sort.column), F("pk")), (value, pk)))
    rows = _deferred_rows(rows, order, size, **sort_key)
    # The count as a column (compiled by the ORM, its values parameters).
    rows = rows.annotate(page_count=RawSQL(count.sql, count.params))  # noqa: S611
    # Only what the table shows: a finding's message and search text are long.
    values = list(rows.values_list(*ROW_VALUES, *sort_key, "page_count")[:size])
    if sort_key:
        found = [TableRow(row[:-2], row[-2], sort.column) for row in values]
    else:
        found = [TableRow(row[:-1]) for row in values]
    return found, values[0][-1] if values else None


def _sla_rows(
    queryset: QuerySet[Finding],
    days: Mapping[str, int],
    *,
    descending: bool,
    position: tuple[str, object, int] | None,
    size: int,
    count: CountSql,
) -> tuple[list[TableRow], int | None]:
    """Up to ``size`` rows from ``position`` on in SLA-due order (PostgreSQL), and ``count``,
    in one query: the page's ids and due dates (``_sla_page_sql``), then its rows read by
    those ids, each with the count (None without rows to carry it)."""
    page_sql, params = _sla_page_sql(
        queryset.order_by(), days, descending=descending, position=position, size=size
    )
    direction = "DESC" if descending else "ASC"
    sql = (
        f"WITH page AS ({page_sql}) SELECT found.*, page.sla_due_at, {count.sql} FROM page"
        f" JOIN ({_page_rows_sql(queryset.db)}) AS found ON found.pk = page.pk"
        f" ORDER BY page.sla_due_at {direction}, page.pk {direction}"
    )
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, [*params, *count.params])
        values = cursor.fetchall()
    rows = [TableRow(row[:-2], row[-2], "sla_due_at") for row in values]
    return rows, values[0][-1] if values else None


@cache
def _page_rows_sql(using: str) -> str:
    """The SQL reading the table rows of the ids in ``page`` (a common table expression of
    ``_sla_rows``), compiled once: building it with its three joins costs more than running
    it."""
    ids = RawSQL("SELECT page.pk FROM page", ())
    query = Finding.objects.using(using).filter(pk__in=ids).order_by().values_list(*ROW_VALUES)
    return query.query.sql_with_params()[0]


def findings_page(
    *,
    queryset: QuerySet[Finding],
    sort_key: str,
    cursor: str | None,
    page_size: int = PAGE_SIZE,
    sla_days: Mapping[str, int] | None = None,
    count: CountSql | None = None,
) -> FindingsPage:
    """One page of ``queryset`` in ``sort_key`` order, continuing from ``cursor``.

    A page is found by a row-value comparison against the last row seen, so page 2,000 costs
    what page 1 costs (no OFFSET that reads and drops every earlier row). The count of
    ``queryset`` up to ``COUNT_LIMIT + 1`` is read with the rows: ``count``, when the caller
    counts them its own way, else ``limited_count``.
    """
    sort = SORTS[sort_of(sort_key)]
    position = _decode_cursor(cursor, sort) if cursor else None
    backwards = position is not None and position[0] == "before"
    # Reading backwards walks the reverse order, then flips the rows.
    descending = sort.descending != backwards
    days = SlaPolicy.DEFAULT_DAYS if sla_days is None else sla_days
    if sort.column == "sla_due_at" and connections[queryset.db].vendor == "postgresql":
        read = _sla_rows
    else:
        read = partial(_rows, sort=sort)
    if count is None:
        count = limited_count(queryset, COUNT_LIMIT + 1)
    rows, counted = read(
        queryset, days, descending=descending, position=position, size=page_size + 1, count=count
    )
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    if backwards:
        rows.reverse()
    if position is None:
        has_next, has_previous = has_more, False
    elif backwards:
        has_next, has_previous = True, has_more
    else:
        has_next, has_previous = has_more, True
    if counted is None:
        # No rows: none match, unless the cursor is past the last of them.
        counted = 0 if position is None else count.read(queryset.db)
    return FindingsPage(
        rows=rows,
        count=min(counted, COUNT_LIMIT),
        count_is_lower_bound=counted > COUNT_LIMIT,
        next_cursor=_encode_cursor("after", sort, rows[-1]) if has_next and rows else None,
        previous_cursor=_encode_cursor("before", sort, rows[0]) if has_previous and rows else None,
        is_first=not has_previous,
    )


def status_counts_for(*, queryset: QuerySet[Finding], status: str) -> tuple[int, int]:
    """How many of ``queryset`` would change to ``status``, and how many already have it."""
    total = queryset.count()
    already = queryset.filter(status=status).count()
    return total - already, already


@dataclass(frozen=True)
class FilterChoices:
    """What the findings filters offer and accept of a team: its repositories and squads as
    (id, name), and its members as (user id, username, role), each list by name; and the
    squads the person looking is in (their ids), whose findings are theirs too."""

    repositories: list[tuple[int, str]]
    squads: list[tuple[int, str]]
    members: list[tuple[int, str, str]]
    user_squad_ids: list[int]

    @property
    def owners(self) -> list[tuple[int, str]]:
        """The members as the owner filter offers them: (user id, username)."""
        return [(user_id, username) for user_id, username, _ in self.members]


def filter_choices(*, team_id: int, user=None) -> FilterChoices:
    """The team's ``FilterChoices`` in one query: a list page offers the lists as filters (and
    the members as assignees), checks a chosen one against them, and narrows "mine" by
    ``user``'s squads."""
    user_id = user.pk if user is not None and user.is_authenticated else None
    using = router.db_for_read(Repository)
    sql, params = _filter_choices_sql(using, with_user=user_id is not None)
    ids = {_TEAM_ID: team_id, _USER_ID: user_id}
    bound = [ids.get(param, param) for param in params]
    lists: dict[str, list] = {"repository": [], "squad": [], "member": [], "mine": []}
    with connections[using].cursor() as cursor:
        cursor.execute(sql, bound)
        for kind, pk, name, role in cursor.fetchall():
            lists[kind].append((pk, name, role) if kind == "member" else (pk, name))
    return FilterChoices(
        repositories=lists["repository"],
        squads=lists["squad"],
        members=lists["member"],
        user_squad_ids=[pk for pk, _ in lists["mine"]],
    )


# Parameters of the compiled choices query that are bound per call: no row has a negative id.
_TEAM_ID, _USER_ID = -7_301_001, -7_301_002


@cache
def _filter_choices_sql(using: str, *, with_user: bool) -> tuple[str, tuple]:
    """The choices query's SQL and parameters, the team's and user's ids as placeholders,
    compiled once: building the union of four querysets costs several times more than
    running it."""

    def choices(queryset, kind: str, key: str, label: str, role: str = ""):
        return (
            queryset.using(using)
            .filter(team_id=_TEAM_ID)
            .order_by()
            .values(
                choice_kind=Value(kind),
                choice_id=F(key),
                choice_label=F(label),
                choice_role=F(role) if role else Value(""),
            )
        )

    parts = [
        choices(Squad.objects, "squad", "pk", "name"),
        choices(Membership.objects, "member", "user_id", "user__username", "role"),
    ]
    if with_user:
        parts.append(choices(Squad.objects.filter(members__user_id=_USER_ID), "mine", "pk", "name"))
    union = choices(Repository.objects, "repository", "pk", "name").union(*parts, all=True)
    query = union.order_by("choice_kind", "choice_label", "choice_id").values_list(*CHOICE_COLUMNS)
    sql, params = query.query.sql_with_params()
    return sql, tuple(params)


CHOICE_COLUMNS = ("choice_kind", "choice_id", "choice_label", "choice_role")


def saved_views_for(*, team: Team, user) -> QuerySet[SavedView]:
    return SavedView.objects.filter(team=team, user=user)


def finding_detail(*, team: Team, finding_id: int) -> Finding | None:
    return (
        Finding.objects.filter(team=team, pk=finding_id)
        .select_related("repository", "connection", "owner_member", "owner_squad")
        .first()
    )


def finding_events(*, finding: Finding) -> QuerySet[FindingEvent]:
    return FindingEvent.objects.filter(
        connection_id=finding.connection_id, finding_upstream_id=finding.upstream_id
    ).order_by("-event_timestamp", "-id")


def finding_fixes(*, finding: Finding) -> QuerySet[Fix]:
    return Fix.objects.filter(
        json_list_contains("finding_ids", finding.upstream_id),
        connection_id=finding.connection_id,
    ).prefetch_related("pull_requests")


def source_repo_link(*, finding: Finding) -> str | None:
    """The finding's location in its source repo's web UI, when Kolega gave an html_url.

    A finding names no source repo of its own: a repository with one source repo (the usual
    case) is unambiguous; otherwise a finding path that starts with a repo's name picks it.
    """
    repos = [r for r in finding.repository.source_repos if web_url(r.get("html_url"))]
    if not repos:
        return None
    chosen = repos[0] if len(repos) == 1 else None
    path = finding.file_path
    for repo in repos:
        name = (repo.get("full_name") or "").split("/")[-1]
        if name and path.startswith(f"{name}/"):
            chosen, path = repo, path[len(name) + 1 :]
            break
    if chosen is None:
        return None
    branch = chosen.get("default_branch") or "HEAD"
    return f"{chosen['html_url'].rstrip('/')}/blob/{branch}/{path}"


def status_jobs_for(*, team: Team) -> QuerySet[FindingStatusJob]:
    return FindingStatusJob.objects.filter(team=team).select_related("created_by")


def status_job_detail(*, team: Team, job_id: int) -> FindingStatusJob | None:
    return (
        FindingStatusJob.objects.filter(team=team, pk=job_id)
        .select_related("created_by", "undo_of")
        .first()
    )


def cwe_links(*, finding: Finding) -> list[tuple[str, str | None]]:
    """Each CWE of the finding with its MITRE page, when the id is a CWE number."""
    links = []
    for cwe in finding.cwe:
        number = cwe.upper().removeprefix("CWE-").split(":")[0].strip()
        url = f"https://cwe.mitre.org/data/definitions/{number}.html" if number.isdigit() else None
        links.append((cwe, url))
    return links


def owasp_links(*, finding: Finding) -> list[tuple[str, str | None]]:
    """Each OWASP Top 10 category (``A03:2021-Injection``) with its page on owasp.org."""
    links = []
    for category in finding.owasp:
        code, _, year_and_name = category.partition(":")
        year, _, name = (part.strip() for part in year_and_name.partition("-"))
        code = code.strip()
        url = None
        if code.startswith("A") and year.isdigit() and name:
            url = f"https://owasp.org/Top10/{code}_{year}-{name.replace(' ', '_')}/"
        links.append((category, url))
    return links
