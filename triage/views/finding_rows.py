"""The findings table's rows, built whole in Python.

The findings page, My queue and a rule's findings render up to 50 rows on every filter
change, and in the template language each row cost about 27 variable lookups, each resolved
and escaped on its own: a third of the page's time. Here a row is one `format_html` call, its
values escaped as the template would have escaped them, as Django's admin builds the cells
of its change lists. The `finding-row` partial of `triage/findings/list.html` outputs it.
"""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from triage.models import Finding
from triage.views.options import escaped

NO_SLA_CELL = mark_safe('<span class="muted">No SLA</span>')
PAST_SLA_BADGE = mark_safe(' <span class="badge">Past SLA</span>')
NO_OWNER_CELL = mark_safe('<span class="muted">No owner</span>')

ROW = (
    '<tr id="finding-row-{pk}" data-finding-row data-open-url="{url}" data-status="{status}">\n'
    "{check}"
    '  <td><span class="sev-{severity}">{severity_label}</span></td>\n'
    '  <td class="col-wide"><a href="{url}" data-finding-link>{label}</a><br>'
    '<span class="muted small mono">{check_id}</span>{error}</td>\n'
    '  <td><span class="status-{status}">{status_label}</span></td>\n'
    '  <td><a href="{repository_url}" data-repository-link>{repository}</a></td>\n'
    '  <td class="small"><span class="mono">{file_path}</span></td>\n'
    '  <td class="nowrap small num">{age_days} d</td>\n'
    '  <td class="nowrap small" data-owner>{owner}</td>\n'
    '  <td class="nowrap small{overdue}">{sla}</td>\n'
    '  <td class="nowrap small"><time datetime="{last_seen_iso}" data-relative '
    'title="{last_seen_text}">{last_seen_text}</time></td>\n'
    "</tr>\n"
)
CHECK = (
    '  <td class="col-check"><input type="checkbox" name="finding" value="{}" '
    'form="findings-selection" aria-label="Select {}"></td>\n'
)
ERROR = '<br><span class="field-error" role="alert">{}</span>'


def decorate_rows(
    rows, *, team_slug: str, sla_days: dict[str, int], can_triage: bool, error: str = ""
) -> SafeString:
    """Give each row its whole `<tr>` (``row.html``), and answer them all in one string (a
    table body output at once, not row by row in a template loop); ``error`` is shown under
    the row's title (a status change refused from the table)."""
    prefixes = (
        reverse("findings", kwargs={"team_slug": team_slug}),
        reverse("repositories", kwargs={"team_slug": team_slug}),
    )
    now = timezone.now()
    # The user's time zone, looked up once rather than for each of a row's dates.
    zone = timezone.get_current_timezone()
    for row in rows:
        row.html = _row_html(
            row,
            prefixes=prefixes,
            now=now,
            zone=zone,
            sla_days=sla_days,
            can_triage=can_triage,
            error=error,
        )
    return mark_safe("".join(row.html for row in rows))  # noqa: S308 (each row escaped)


def _sla(row, days: int | None, now, zone) -> tuple[bool, SafeString]:
    """Whether the row is past its SLA, and its SLA cell (in the time zone ``zone``)."""
    if days is None:
        return False, NO_SLA_CELL
    due = (row.first_detected_at + timedelta(days=days)).astimezone(zone)
    overdue = row.status in Finding.UNRESOLVED_STATUSES and due < now
    cell = format_html(
        '<time datetime="{}">{}</time>{}',
        due.isoformat(),
        due.strftime("%d %b %Y"),
        PAST_SLA_BADGE if overdue else "",
    )
    return overdue, cell


def _owner_cell(row) -> SafeString:
    """@member (marked when assigned by hand) and/or @squad, or "No owner"."""
    member, squad = row.owner_member, row.owner_squad
    if member is None and squad is None:
        return NO_OWNER_CELL
    parts = []
    if member is not None:
        title = mark_safe(' title="Assigned by hand"') if row.owner_explicit else ""
        parts.append(format_html("<span{}>@{}</span>", title, member.username))
    if squad is not None:
        parts.append(format_html('<span class="muted">@{}</span>', squad.name))
    return mark_safe(" · ".join(parts))  # noqa: S308 (each part escaped by format_html)


def _check_cell(pk: int, label: str) -> SafeString:
    return mark_safe(CHECK.format(pk, escaped(label)))  # noqa: S308 (escaped)


def _row_html(
    row,
    *,
    prefixes: tuple[str, str],
    now,
    zone,
    sla_days: dict[str, int],
    can_triage: bool,
    error: str,
) -> SafeString:
    findings, repositories = prefixes
    url = f"{findings}{row.pk}/"
    label = row.title or row.check_id
    last_seen = row.last_detected_at.astimezone(zone)
    last_seen_text = last_seen.strftime("%d %b %Y, %H:%M")
    overdue, sla = _sla(row, sla_days.get(row.severity), now, zone)
    values = {
        "pk": row.pk,
        "url": url,
        "status": row.status,
        "check": _check_cell(row.pk, label) if can_triage else "",
        "severity": row.severity,
        "severity_label": row.severity_label,
        "label": label,
        "check_id": row.check_id,
        "error": format_html(ERROR, error) if error else "",
        "status_label": row.status_label,
        "repository_url": f"{repositories}{row.repository_id}/",
        "repository": row.repository.name,
        "file_path": row.file_path,
        "age_days": max(0, (now - row.first_detected_at).days),
        "owner": _owner_cell(row),
        "overdue": " sla-overdue" if overdue else "",
        "sla": sla,
        "last_seen_iso": last_seen.isoformat(),
        "last_seen_text": last_seen_text,
    }
    # Every value escaped (or already safe), as format_html would.
    return mark_safe(ROW.format_map({name: escaped(value) for name, value in values.items()}))  # noqa: S308
