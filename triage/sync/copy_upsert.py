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
from operator import attrgetter
from types import SimpleNamespace
from typing import Any

from django.db import connection as db
from django.db import models, transaction
from psycopg.types.json import Jsonb


@cache
def _defaults(model: type[models.Model]) -> tuple[dict[str, Any], tuple[tuple[str, Any], ...]]:
    """The non-key columns' defaults: fixed values by attname (what Django gives a field
    without a default too: "" for text, else None), and (attname, callable) for the rest."""
    fixed: dict[str, Any] = {}
    computed = []
    for field in _concrete_fields(model):
        if field.has_default() and callable(field.default):
            computed.append((field.attname, field.default))
        else:
            fixed[field.attname] = field.get_default()
    return fixed, tuple(computed)


def row(model: type[models.Model], **values: Any) -> SimpleNamespace:
    """A row to stage: the given column values (by attname) over the model's defaults.

    What `Model(**values)` would hold for the columns, without the cost of building a
    model instance for every one of a full sync's rows.
    """
    fixed, computed = _defaults(model)
    staged = {**fixed, **{name: make() for name, make in computed if name not in values}}
    staged.update(values)
    return SimpleNamespace(**staged)


def _concrete_fields(model: type[models.Model]) -> list[models.Field]:
    return [field for field in model._meta.concrete_fields if not field.primary_key]


@cache
def _row_values(model: type[models.Model]) -> Callable[[Any], Sequence[Any]]:
    """A staged row's column values, in `_concrete_fields` order, as COPY takes them (JSON
    wrapped for the server); read with one `attrgetter`, not one call per column."""
    fields = _concrete_fields(model)
    names = [field.attname for field in fields]
    get = attrgetter(*names) if len(names) > 1 else (lambda staged: (getattr(staged, names[0]),))
    json_at = [i for i, field in enumerate(fields) if isinstance(field, models.JSONField)]
    if not json_at:
        return get

    def values(staged: Any) -> list[Any]:
        row_values = list(get(staged))
        for i in json_at:
            if row_values[i] is not None:
                row_values[i] = Jsonb(row_values[i])
        return row_values

    return values


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
            values = _row_values(model)
            for staged in rows:
                copy.write_row(values(staged))
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
