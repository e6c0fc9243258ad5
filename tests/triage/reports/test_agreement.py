"""The figures of one report agree with each other whatever the state of the snapshot
rebuild: statuses changed since the last rebuild (their events not even synced yet) show in
the flows as they do in time to remediate and in the open counts."""

import pytest
from django.urls import reverse

from tests.triage.findings.conftest import connection, synced  # noqa: F401  (shared fixtures)
from triage.models import DailyFindingSnapshot, Finding, ReportSnapshotState, Role
from triage.models.reports import SEVERITIES
from triage.services.findings import finding_status_set

# Every test starts from the sandbox's demo organization, synced.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("synced")]


def _report(client, team, query=""):
    response = client.get(reverse("reports", kwargs={"team_slug": team.slug}) + query)
    assert response.status_code == 200
    return response.context


def _assert_agrees(context):
    trend = context["trend"]
    remediation = {row.severity: row.resolved for row in context["remediation"]}
    # Resolved in period (summary card and table) = the findings time to remediate lists.
    assert trend.resolved == sum(remediation.values())
    for severity, _open, _new, _reopened, resolved in context["severity_rows"]:
        assert resolved == remediation[severity], severity
    assert sum(week.resolved for week in trend.weeks) == trend.resolved
    assert sum(week.new for week in trend.weeks) == trend.new
    # The last day of the open chart is the open count shown as "now".
    assert trend.days[-1].open_by_severity == {s: context["open_now"][s] for s in SEVERITIES}
    assert context["open_total"] == trend.days[-1].open_total


def _resolve(team, triager, findings):
    for finding in findings:
        finding_status_set(team=team, actor=triager, finding=finding, status="resolved")


def test_statuses_changed_since_the_rebuild_show_in_every_figure(team, member, client_as, triager):
    client = client_as(member(Role.VIEWER))
    first = _report(client, team)  # a small team's first visit builds the snapshots
    rebuilt_at = ReportSnapshotState.objects.get(team=team).rebuilt_at
    snapshot_rows = list(DailyFindingSnapshot.objects.filter(team=team).values_list())
    _assert_agrees(first)
    resolved_before = first["trend"].resolved

    targets = list(
        Finding.objects.unresolved().filter(team=team, severity__in=SEVERITIES).order_by("pk")[:4]
    )
    assert len(targets) == 4
    _resolve(team, triager, targets)

    after = _report(client, team)

    assert ReportSnapshotState.objects.get(team=team).rebuilt_at == rebuilt_at
    assert list(DailyFindingSnapshot.objects.filter(team=team).values_list()) == snapshot_rows
    assert after["trend"].resolved == resolved_before + 4
    _assert_agrees(after)


def test_one_repositorys_report_agrees_too(team, member, client_as, triager):
    client = client_as(member(Role.VIEWER))
    _report(client, team)
    finding = Finding.objects.unresolved().filter(team=team, severity__in=SEVERITIES).first()
    _resolve(team, triager, [finding])

    scoped = _report(client, team, f"?repository={finding.repository_id}")

    assert scoped["scope"].repository == finding.repository
    assert scoped["trend"].resolved >= 1
    _assert_agrees(scoped)


def test_while_the_first_rebuild_is_on_its_way_the_flows_come_from_the_mirror(
    team, member, client_as, triager, monkeypatch
):
    from triage.services import reports as report_services

    monkeypatch.setattr(report_services, "INLINE_REBUILD_MAX_EVENTS", 0)
    client = client_as(member(Role.VIEWER))
    _resolve(team, triager, Finding.objects.unresolved().filter(team=team, severity="critical")[:2])

    context = _report(client, team)

    assert context["snapshot_state"] is None
    assert context["trend"].resolved >= 2
    _assert_agrees(context)
