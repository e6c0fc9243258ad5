"""CSV exports: every matching row, streamed, with cells made safe for spreadsheets."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from triage.models import Finding

# A spreadsheet evaluates a cell starting with one of these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CHUNK_ROWS = 2000

FINDING_COLUMNS = [
    ("finding_id", "upstream_id"),
    ("repository", "repository__name"),
    ("severity", "severity"),
    ("status", "status"),
    ("scan_type", "scan_type"),
    ("check_id", "check_id"),
    ("title", "title"),
    ("file_path", "file_path"),
    ("cwe", "cwe"),
    ("category", "category"),
    ("cvss_base_score", "cvss_base_score"),
    ("first_detected_at", "first_detected_at"),
    ("last_detected_at", "last_detected_at"),
    ("resolved_at", "resolved_at"),
    ("source_url", "source_url"),
]


def csv_cell(value) -> str:
    """The text of one cell; text that a spreadsheet would run as a formula gets a quote."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, list | tuple):
        value = ";".join(str(item) for item in value)
    text = str(value)
    if isinstance(value, str) and text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])


def csv_response(*, filename: str, header: list[str], rows: Iterable[Iterable]):
    response = StreamingHttpResponse(csv_lines(header, rows), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def finding_rows(findings: QuerySet[Finding]) -> Iterator[tuple]:
    """Rows in a stable order, fetched CHUNK_ROWS at a time so memory stays flat."""
    return (
        findings.order_by("id")
        .values_list(*(source for _, source in FINDING_COLUMNS))
        .iterator(chunk_size=CHUNK_ROWS)
    )
