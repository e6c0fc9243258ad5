"""Inserting many rows fast, below the ORM.

Building a model instance per row costs more than the database does at 100,000 rows, so
rows are plain dicts converted with each field's own database adapter. PostgreSQL gets
them through COPY; other databases through ``executemany``.
"""

import json
from typing import Any

from django.db import connection
from django.db.models import JSONField, Model

CHUNK = 5000


def bulk_insert(model: type[Model], rows: list[dict[str, Any]], *, table: str = "") -> None:
    """Insert ``rows`` (dicts by attname) into ``model``'s table, or into ``table`` (quoted)
    shaped like it."""
    if not rows:
        return
    names = list(rows[0])
    by_attname = {field.attname: field for field in model._meta.concrete_fields}
    fields = [by_attname[name] for name in names]
    columns = [field.column for field in fields]
    table = table or connection.ops.quote_name(model._meta.db_table)
    quoted = ", ".join(connection.ops.quote_name(column) for column in columns)
    if connection.vendor == "postgresql":
        _copy(table, quoted, fields, names, rows)
        return
    converters = [_converter(field) for field in fields]
    placeholders = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {table} ({quoted}) VALUES ({placeholders})"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), CHUNK):
            cursor.executemany(
                sql,
                [
                    [convert(row[name]) for name, convert in zip(names, converters, strict=True)]
                    for row in rows[start : start + CHUNK]
                ],
            )


def _converter(field):
    if isinstance(field, JSONField):
        return json.dumps
    target = getattr(field, "target_field", field)

    def convert(value):
        return None if value is None else target.get_db_prep_value(value, connection)

    return convert


def _copy(table: str, quoted: str, fields, names, rows) -> None:
    json_names = {name for name, f in zip(names, fields, strict=True) if isinstance(f, JSONField)}
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(
                    [json.dumps(row[name]) if name in json_names else row[name] for name in names]
                )
