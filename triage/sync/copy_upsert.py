"""Bulk writes through PostgreSQL's COPY: a page goes to a staging table in one stream,
then one INSERT ... SELECT merges it into the mirror.

`bulk_create` spends most of a full sync's time in Python: every value of every row passes
through Django's field preparation and is quoted into one long SQL statement. COPY sends
the rows as a stream the server parses itself, and the merge is a single set-based
statement, so a page costs three round trips whatever its width. Used only on PostgreSQL;
`triage.sync.rows` keeps `bulk_create` for SQLite.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from types import SimpleNamespace
from typing import Any

from django.db import connection as db
from django.db import models, transaction
from psycopg.types.json import Jsonb


@cache
def _defaults(model: type[models.Model]) -> tuple[tuple[str, Any, bool], ...]:
    """(attname, default, whether the default is a callable) of each non-key column."""
    defaults = []
    for field in _concrete_fields(model):
        if field.has_default() and callable(field.default):
            defaults.append((field.attname, field.default, True))
        else:
            # What Django gives a field without a default too: "" for text, else None.
            defaults.append((field.attname, field.get_default(), False))
    return tuple(defaults)


def row(model: type[models.Model], **values: Any) -> SimpleNamespace:
    """A row to stage: the given column values (by attname) over the model's defaults.

    What `Model(**values)` would hold for the columns, without the cost of building a
    model instance for every one of a full sync's rows.
    """
    staged: dict[str, Any] = {}
    for attname, default, is_callable in _defaults(model):
        staged[attname] = default() if is_callable else default
    staged.update(values)
    return SimpleNamespace(**staged)


def _concrete_fields(model: type[models.Model]) -> list[models.Field]:
    return [field for field in model._meta.concrete_fields if not field.primary_key]


def _value_getters(model: type[models.Model]) -> list[Callable[[Any], Any]]:
    def plain(attname: str) -> Callable[[Any], Any]:
        return lambda staged: getattr(staged, attname)

    def json(attname: str) -> Callable[[Any], Any]:
        def get(staged: Any) -> Any:
            value = getattr(staged, attname)
            return None if value is None else Jsonb(value)

        return get

    return [
        json(field.attname) if isinstance(field, models.JSONField) else plain(field.attname)
        for field in _concrete_fields(model)
    ]


def _stage(model: type[models.Model], rows: Sequence[Any]) -> tuple[str, list[str]]:
    """Copy `rows` into a temporary table shaped like the model's; answer its name and columns.

    Callers drop it once merged; it is also dropped when the transaction ends, so a staging
    table never outlives its page, and two connections never see each other's.
    """
    fields = _concrete_fields(model)
    columns = [field.column for field in fields]
    quote = db.ops.quote_name
    table = quote(model._meta.db_table)
    stage = quote(f"stage_{model._meta.db_table}")
    column_list = ", ".join(quote(column) for column in columns)
    with db.cursor() as cursor:
        # CREATE TABLE AS copies the column types but none of the constraints, so the
        # primary key the staging rows do not have is not required. The page's commit need
        # not wait for the disk: the mirror can be synced again, and the log's order means
        # a sync cursor committed later is never kept without these rows.
        cursor.execute(
            "SET LOCAL synchronous_commit TO OFF; "
            f"CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS "
            f"SELECT {column_list} FROM {table} WITH NO DATA"
        )
        with cursor.copy(f"COPY {stage} ({column_list}) FROM STDIN") as copy:
            getters = _value_getters(model)
            for staged in rows:
                copy.write_row([get(staged) for get in getters])
    return stage, columns


def upsert(
    model: type[models.Model],
    rows: Sequence[Any],
    *,
    unique_columns: Sequence[str],
    update_columns: Sequence[str],
    touch_columns: Sequence[str] = (),
) -> tuple[dict[str, int], int]:
    """Insert new rows and overwrite those whose `update_columns` differ.

    Rows must be unique on `unique_columns`; `touch_columns` (such as `synced_at`) are
    written along with a change but do not make one. Answers the primary key of every row
    by its `upstream_id`, and how many rows were inserted or changed.
    """
    if not rows:
        return {}, 0
    quote = db.ops.quote_name
    table = quote(model._meta.db_table)
    # Inside a caller's transaction (a sync's page) no savepoint: a failure fails the page.
    with transaction.atomic(savepoint=False):
        stage, columns = _stage(model, rows)
        column_list = ", ".join(quote(column) for column in columns)
        assignments = ", ".join(
            f"{quote(column)} = EXCLUDED.{quote(column)}"
            for column in [*update_columns, *touch_columns]
        )
        current = ", ".join(f"{table}.{quote(column)}" for column in update_columns)
        incoming = ", ".join(f"EXCLUDED.{quote(column)}" for column in update_columns)
        conflict = ", ".join(quote(column) for column in unique_columns)
        join = " AND ".join(f"t.{quote(column)} = s.{quote(column)}" for column in unique_columns)
        with db.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({column_list}) "
                f"SELECT {column_list} FROM {stage} "
                f"ON CONFLICT ({conflict}) DO UPDATE SET {assignments} "
                f"WHERE ROW({current}) IS DISTINCT FROM ROW({incoming})"
            )
            written = max(cursor.rowcount, 0)
            cursor.execute(f"SELECT t.upstream_id, t.id FROM {stage} s JOIN {table} t ON {join}")
            pks = dict(cursor.fetchall())
            cursor.execute(f"DROP TABLE {stage}")
    return pks, written


def insert_new(
    model: type[models.Model], rows: Sequence[Any], *, unique_columns: Sequence[str]
) -> int:
    """Insert the rows not already present on `unique_columns`; answer how many were new."""
    if not rows:
        return 0
    quote = db.ops.quote_name
    table = quote(model._meta.db_table)
    with transaction.atomic(savepoint=False):
        stage, columns = _stage(model, rows)
        column_list = ", ".join(quote(column) for column in columns)
        conflict = ", ".join(quote(column) for column in unique_columns)
        with db.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({column_list}) "
                f"SELECT {column_list} FROM {stage} ON CONFLICT ({conflict}) DO NOTHING"
            )
            inserted = max(cursor.rowcount, 0)
            cursor.execute(f"DROP TABLE {stage}")
    return inserted
