"""The domain's words are defined once, on the models, and every page, form and export uses
them: one label per value, and never a raw value where a person reads."""

import csv
import html
import io
import re
from pathlib import Path

import pytest
from django.urls import reverse

from tests.factories import (
    FindingFactory,
    FixFactory,
    RepositoryFactory,
    ScanBatchFactory,
)
from triage.filters.findings import FindingFilter
from triage.forms.scans import ScanBatchFilter, ScanStartForm
from triage.models import (
    Finding,
    FindingEventType,
    FindingStatus,
    Fix,
    FixStatus,
    Role,
    ScanBatch,
    ScanBatchStatus,
    ScanType,
    Severity,
    label_of,
)
from triage.models.reports import SEVERITIES

ROOT = Path(__file__).resolve().parents[2]
VOCABULARIES = (Severity, FindingStatus, ScanType, ScanBatchStatus, FixStatus, FindingEventType)


def _page(client, name: str, team, query: str = "") -> str:
    response = client.get(reverse(name, kwargs={"team_slug": team.slug}) + query)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_each_label_is_written_once_in_the_models():
    """No module or template outside `triage/models/` pairs a value with a label (its own or
    another), nor spells a label of more than one word (single words such as "Open" or
    "Failed" are also the headings of counts)."""
    sources = [
        path
        for path in [*(ROOT / "triage").rglob("*.py"), *(ROOT / "templates").rglob("*.html")]
        if "migrations" not in path.parts and "models" not in path.relative_to(ROOT).parts[:2]
    ]
    texts = {path: path.read_text() for path in sources}
    repeated = []
    for vocabulary in VOCABULARIES:
        for value, label in vocabulary.choices:
            pair = re.compile(rf"[\"']{value}[\"']\s*[:,]\s*[\"'][A-Z]")
            spelled = re.compile(rf"[\"'>]{re.escape(label)}[\"'<]")
            repeated += [
                (label, str(path.relative_to(ROOT)))
                for path, text in texts.items()
                if pair.search(text) or (re.search(r"[ (]", label) and spelled.search(text))
            ]
    assert repeated == []


def test_filters_and_forms_offer_the_models_choices(team):
    findings = FindingFilter(team=team)
    assert findings.filters["severity"].extra["choices"] == Severity.choices
    assert findings.filters["status"].extra["choices"] == FindingStatus.choices
    assert findings.filters["scan_type"].extra["choices"] == ScanType.choices
    batches = ScanBatchFilter(team=team)
    assert batches.filters["scan_type"].extra["choices"] == ScanType.choices
    assert batches.filters["status"].extra["choices"][1:] == ScanBatchStatus.choices
    assert ScanStartForm(team=team).fields["scan_types"].choices == ScanType.choices


def test_findings_page_reports_page_and_csv_use_the_models_labels_and_values(
    team, member, client_as
):
    repository = RepositoryFactory(team=team)
    for scan_type, status in zip(ScanType.values, FindingStatus.values, strict=False):
        FindingFactory(repository=repository, scan_type=scan_type, status=status)
    for scan_type in ScanType.values:
        ScanBatchFactory(repository=repository, scan_type=scan_type, status="completed")
    client = client_as(member(Role.VIEWER))

    findings_page = _page(client, "findings", team)
    for label in [*Severity.labels, *FindingStatus.labels]:
        assert f"> {label}</label>" in findings_page
    for value, label in ScanType.choices:
        assert f'<option value="{value}">{label}</option>' in findings_page

    reports_page = _page(client, "reports", team)
    for label in [*ScanType.labels, *(severity.label for severity in SEVERITIES)]:
        assert f">{label}</th>" in reports_page

    header, *rows = _csv(
        client.get(reverse("reports-export-repositories", kwargs={"team_slug": team.slug}))
    )
    assert [h for h in header if h.startswith(("open_", "last_"))] == [
        *(f"open_{severity.value}" for severity in SEVERITIES),
        *(f"last_{value}" for value in ScanType.values),
    ]
    header, *rows = _csv(
        client.get(reverse("reports-export-findings", kwargs={"team_slug": team.slug}))
    )
    columns = {name: [row[header.index(name)] for row in rows] for name in header}
    assert set(columns["severity"]) <= set(Severity.values)
    assert set(columns["status"]) == set(FindingStatus.values) - {"false_positive"}
    assert set(columns["scan_type"]) == set(ScanType.values)


def test_pages_show_labels_never_raw_values(team, member, client_as):
    repository = RepositoryFactory(team=team)
    finding = FindingFactory(
        repository=repository, status="needs_manual_review", scan_type="secrets_scan"
    )
    FixFactory(
        repository=repository, status="pr_creation_failed", finding_ids=[finding.upstream_id]
    )
    client = client_as(member(Role.VIEWER))

    detail = client.get(
        reverse("finding", kwargs={"team_slug": team.slug, "finding_id": finding.pk})
    ).content.decode()
    fixes = _page(client, "fixes", team)

    assert "Needs manual review" in detail and "Secrets" in detail
    assert ">needs_manual_review<" not in detail and ">secrets_scan<" not in detail
    assert "Pull request creation failed" in fixes and "Pr_creation_failed" not in fixes


def test_labels_ignore_case_and_show_unknown_values_readably():
    assert label_of(FixStatus, "COMPLETED") == "Completed"
    assert label_of(ScanType, "semgrep_scan") == "Code (SAST)"
    assert label_of(ScanBatchStatus, "waiting_for_runner") == "Waiting for runner"
    assert label_of(Severity, None) == ""


@pytest.mark.django_db
def test_active_terminal_and_unsettled_compare_statuses_in_any_case():
    repository = RepositoryFactory()
    batches = {
        status: ScanBatchFactory(repository=repository, status=status)
        for status in ("scanning", "COMPLETED", "Partial_Failure", "cancelled", "new_kind")
    }
    fixes = {
        status: FixFactory(repository=repository, status=status)
        for status in ("running", "Completed", "PR_UPDATE_FAILED", "pending")
    }

    active = set(ScanBatch.objects.active().values_list("status", flat=True))
    terminal = set(ScanBatch.objects.terminal().values_list("status", flat=True))
    unsettled = set(Fix.objects.unsettled().values_list("status", flat=True))
    with_diff = set(Fix.objects.with_diff().values_list("status", flat=True))

    assert active == {"scanning", "new_kind"}
    assert terminal == set(batches) - active
    assert all(batches[s].is_terminal for s in terminal)
    assert unsettled == {"running", "pending"}
    assert all(fixes[s].is_settled for s in set(fixes) - unsettled)
    assert with_diff == {"Completed", "PR_UPDATE_FAILED"}


def test_unresolved_findings_are_open_or_waiting_for_review(team):
    repository = RepositoryFactory(team=team)
    for status in FindingStatus.values:
        FindingFactory(repository=repository, status=status)
    unresolved = Finding.objects.filter(team=team).unresolved()
    assert sorted(unresolved.values_list("status", flat=True)) == [
        "needs_manual_review",
        "open",
    ]
