import csv
import io
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from tests.factories import T0, FindingFactory, RepositoryFactory, ScanBatchFactory
from triage.models import Role, ScanBatchFinding
from triage.reports.exports import csv_cell

pytestmark = pytest.mark.django_db


def csv_of(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def export(client, team, name, query=""):
    return client.get(reverse(name, kwargs={"team_slug": team.slug}) + f"?{query}")


@pytest.fixture
def findings(team, other_team):
    api = RepositoryFactory(at=T0, team=team, name="api")
    web = RepositoryFactory(at=T0, team=team, name="web", connection=api.connection)
    made = {
        "api_critical": FindingFactory(
            at=T0,
            repository=api,
            severity="critical",
            check_id="secrets.aws-key",
            scan_type="secrets_scan",
            file_path="config/settings.py",
            title="+AWS key in settings",
            cwe=["CWE-798"],
            first_detected_at=datetime(2026, 2, 1, 9, 30, tzinfo=UTC),
        ),
        "api_low_resolved": FindingFactory(
            at=T0,
            repository=api,
            severity="low",
            status="resolved",
            resolved_at=datetime(2026, 2, 3, tzinfo=UTC),
            file_path="docs/readme.py",
            first_detected_at=datetime(2026, 1, 5, tzinfo=UTC),
        ),
        "web_high": FindingFactory(
            at=T0, repository=web, severity="high", message="@SUM(A1) reaches eval", title=None
        ),
    }
    FindingFactory(at=T0, repository=RepositoryFactory(at=T0, team=other_team), severity="critical")
    return made


def test_csv_cells_that_a_spreadsheet_would_evaluate_are_quoted():
    assert [csv_cell(v) for v in ("=1+1", "+1", "-2", "@SUM(A1)", "\tx", "plain")] == [
        "'=1+1",
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "'\tx",
        "plain",
    ]
    assert (
        csv_cell(None) == ""
        and csv_cell(-3) == "-3"
        and csv_cell(["CWE-1", "CWE-2"]) == ("CWE-1;CWE-2")
    )


def test_findings_export_has_every_matching_row_of_the_team_only(team, member, client_as, findings):
    client = client_as(member(Role.VIEWER))
    rows = csv_of(export(client, team, "reports-export-findings"))
    assert sorted(r["finding_id"] for r in rows) == sorted(f.upstream_id for f in findings.values())
    critical = next(r for r in rows if r["severity"] == "critical")
    assert critical == {
        **critical,
        "repository": "api",
        "status": "open",
        "scan_type": "secrets_scan",
        "check_id": "secrets.aws-key",
        "title": "'+AWS key in settings",
        "file_path": "config/settings.py",
        "cwe": "CWE-798",
        "first_detected_at": "2026-02-01T09:30:00+00:00",
        "resolved_at": "",
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("severity=critical&severity=high", {"api_critical", "web_high"}),
        ("status=resolved", {"api_low_resolved"}),
        ("scan_type=secrets_scan", {"api_critical"}),
        ("check_id=secrets.aws-key", {"api_critical"}),
        ("path=config/", {"api_critical"}),
        ("cwe=CWE-798", {"api_critical"}),
        ("q=sum(a1)", {"web_high"}),
        ("first_detected_after=2026-02-01&first_detected_before=2026-02-01", {"api_critical"}),
        ("severity=low&status=resolved&path=docs", {"api_low_resolved"}),
    ],
)
def test_findings_export_applies_the_findings_filters(
    team, member, client_as, findings, query, expected
):
    rows = csv_of(export(client_as(member(Role.VIEWER)), team, "reports-export-findings", query))
    ids = {name for name, f in findings.items() if f.upstream_id in {r["finding_id"] for r in rows}}
    assert ids == expected


def test_findings_export_by_repository_and_batch(team, member, client_as, findings):
    client = client_as(member(Role.VIEWER))
    web = findings["web_high"].repository
    rows = csv_of(export(client, team, "reports-export-findings", f"repository={web.pk}"))
    assert [r["finding_id"] for r in rows] == [findings["web_high"].upstream_id]
    batch = ScanBatchFactory(at=T0, repository=findings["api_critical"].repository)
    ScanBatchFinding.objects.create(scan_batch=batch, finding=findings["api_critical"])
    rows = csv_of(export(client, team, "reports-export-findings", f"batch={batch.pk}"))
    assert [r["finding_id"] for r in rows] == [findings["api_critical"].upstream_id]


def test_findings_export_refuses_bad_filters(team, member, client_as, findings):
    client = client_as(member(Role.VIEWER))
    for query in ("severity=urgent", "repository=x", "first_detected_after=yesterday"):
        response = export(client, team, "reports-export-findings", query)
        assert response.status_code == 400
        assert b"form-errors" in response.content


def test_sla_breaches_and_repository_exports(team, member, client_as, findings):
    client = client_as(member(Role.VIEWER))
    rows = csv_of(export(client, team, "reports-export-sla"))
    # Factory findings were first detected on 1 Jan 2026 or 1 Feb: long past their SLA.
    assert {r["finding_id"] for r in rows} == {
        findings["api_critical"].upstream_id,
        findings["web_high"].upstream_id,
    }
    critical = next(r for r in rows if r["severity"] == "critical")
    assert critical["sla_deadline"] == "2026-02-08T09:30:00+00:00"
    assert int(critical["days_overdue"]) > 0
    repositories = csv_of(export(client, team, "reports-export-repositories"))
    assert [(r["repository"], r["weighted_risk"], r["open_critical"]) for r in repositories] == [
        ("api", "10", "1"),
        ("web", "5", "0"),
    ]
