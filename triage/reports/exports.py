"""CSV exports: every matching row, streamed, with cells made safe for spreadsheets."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, time, timedelta

from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from triage.models import Finding, Team

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


def _day_start(day) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def findings_filtered(*, team: Team, filters: dict) -> QuerySet[Finding]:
    """The findings page's filter applied to the team's findings (cleaned form data in)."""
    findings = Finding.objects.filter(team=team)
    if filters.get("repository"):
        findings = findings.filter(repository_id=filters["repository"])
    for name in ("severity", "status", "scan_type"):
        if filters.get(name):
            findings = findings.filter(**{f"{name}__in": filters[name]})
    if filters.get("batch"):
        findings = findings.filter(scan_batches__pk=filters["batch"])
    if filters.get("check_id"):
        findings = findings.filter(check_id=filters["check_id"])
    if filters.get("path"):
        findings = findings.filter(file_path__startswith=filters["path"])
    if filters.get("cwe"):
        findings = findings.filter(cwe__contains=[filters["cwe"]])
    if filters.get("q"):
        findings = findings.filter(search_text__contains=filters["q"].lower())
    if filters.get("detected_after"):
        findings = findings.filter(first_detected_at__gte=_day_start(filters["detected_after"]))
    if filters.get("detected_before"):
        findings = findings.filter(
            first_detected_at__lt=_day_start(filters["detected_before"]) + timedelta(days=1)
        )
    if filters.get("resolved_after"):
        findings = findings.filter(resolved_at__gte=_day_start(filters["resolved_after"]))
    if filters.get("resolved_before"):
        findings = findings.filter(
            resolved_at__lt=_day_start(filters["resolved_before"]) + timedelta(days=1)
        )
    return findings


def finding_rows(findings: QuerySet[Finding]) -> Iterator[tuple]:
    """Rows in a stable order, fetched CHUNK_ROWS at a time so memory stays flat."""
    return (
        findings.order_by("id")
        .values_list(*(source for _, source in FINDING_COLUMNS))
        .iterator(chunk_size=CHUNK_ROWS)
    )
