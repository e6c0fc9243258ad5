"""Report figures against small hand-computed fixtures, with the clock passed in as `now`."""

from datetime import date, timedelta

import pytest

from tests.factories import (
    T0,
    FindingEventFactory,
    FindingFactory,
    FixApprovalFactory,
    FixFactory,
    PullRequestFactory,
    RepositoryFactory,
    ScanBatchFactory,
    at,
)
from triage.models import DailyFindingSnapshot, FindingEvent, SlaPolicy
from triage.models.fixes import FixApproval
from triage.selectors import reports as selectors
from triage.selectors.reports import ReportScope
from triage.selectors.reports.forecast import _forecast
from triage.services.reports import report_snapshots_rebuild

pytestmark = pytest.mark.django_db


def scope_of(team, first: str, last: str, now: str, repository=None) -> ReportScope:
    return ReportScope(
        team=team,
        first_day=date.fromisoformat(first),
        last_day=date.fromisoformat(last),
        now=at(now),
        repository=repository,
    )


def test_time_to_remediate_median_and_p90_per_severity(team, other_team):
    repository = RepositoryFactory(at=T0, team=team)

    def resolved(severity, first, resolved_at):
        FindingFactory(
            at=T0,
            repository=repository,
            severity=severity,
            status="resolved",
            first_detected_at=at(first),
            resolved_at=at(resolved_at),
        )

    resolved("high", "2026-01-20T12:00", "2026-02-05T12:00")  # 16 days
    resolved("high", "2026-02-01T12:00", "2026-02-03T12:00")  # 2 days
    resolved("high", "2026-02-10T00:00", "2026-02-20T00:00")  # 10 days
    # Reopened and resolved again: counted once, from first detection to the last resolution.
    resolved("high", "2026-01-01T00:00", "2026-02-11T00:00")  # 41 days
    resolved("high", "2026-01-01T00:00", "2026-01-25T00:00")  # before the period
    resolved("critical", "2026-02-01T00:00", "2026-02-01T12:00")  # half a day
    FindingFactory(at=T0, repository=repository, severity="high", status="open")
    theirs = RepositoryFactory(at=T0, team=other_team)
    FindingFactory(
        at=T0,
        repository=theirs,
        status="resolved",
        first_detected_at=at("2026-02-01T00:00"),
        resolved_at=at("2026-02-28T00:00"),
    )

    rows = {
        row.severity: row
        for row in selectors.time_to_remediate(
            scope=scope_of(team, "2026-02-01", "2026-03-01", "2026-03-01T12:00")
        )
    }
    assert rows["high"].resolved == 4
    assert rows["high"].median_days == pytest.approx(13.0)  # (10 + 16) / 2
    assert rows["high"].p90_days == pytest.approx(33.5)  # 16 + 0.7 * (41 - 16)
    assert rows["critical"].resolved == 1
    assert rows["critical"].median_days == pytest.approx(0.5)
    assert rows["medium"].resolved == 0 and rows["medium"].median_days is None


def test_sla_breaches_and_due_dates_follow_the_policy(team, other_team):
    repository = RepositoryFactory(at=T0, team=team, name="api")
    now = "2026-03-01T12:00"

    def open_finding(severity, first, status="open"):
        return FindingFactory(
            at=T0,
            repository=repository,
            severity=severity,
            status=status,
            first_detected_at=at(first),
        )

    breached = open_finding("critical", "2026-02-20T12:00")  # deadline 27 Feb: breached
    due = open_finding("critical", "2026-02-25T12:00")  # deadline 4 Mar: due within 7 days
    open_finding("critical", "2026-03-01T12:00")  # deadline 8 Mar 12:00: exactly 7 days away
    at_deadline = open_finding("high", "2026-01-30T12:00")  # deadline is now: due, not breached
    open_finding("high", "2025-06-01T00:00", status="resolved")  # resolved: never counted
    review = open_finding("medium", "2025-11-01T00:00", status="needs_manual_review")  # breached
    FindingFactory(
        at=T0,
        repository=RepositoryFactory(at=T0, team=other_team),
        severity="critical",
        first_detected_at=at("2025-01-01T00:00"),
    )

    scope = scope_of(team, "2026-02-01", "2026-03-01", now)
    policy = selectors.sla_policy_of(team)
    rows = {row.severity: row for row in selectors.sla_summary(scope=scope, policy=policy)}
    assert (rows["critical"].open, rows["critical"].breached, rows["critical"].due_soon) == (
        3,
        1,
        1,
    )
    assert (rows["high"].breached, rows["high"].due_soon) == (0, 1)
    assert (rows["medium"].breached, rows["medium"].due_soon) == (1, 0)
    assert list(selectors.sla_findings(scope=scope, policy=policy, kind="breached")) == [
        review,
        breached,
    ]
    assert list(
        selectors.sla_findings(scope=scope, policy=policy, kind="due", severity="critical")
    ) == [due]
    assert selectors.sla_deadline(due, policy) == at("2026-03-04T12:00")
    assert selectors.sla_deadline(at_deadline, policy) == at("2026-03-01T12:00")

    # A stricter policy breaches the high finding; the list follows the counts.
    SlaPolicy.objects.create(team=team, high_days=10)
    policy = selectors.sla_policy_of(team)
    rows = {row.severity: row for row in selectors.sla_summary(scope=scope, policy=policy)}
    assert rows["high"].breached == 1
    assert at_deadline in selectors.sla_findings(
        scope=scope, policy=policy, kind="breached", severity="high"
    )


@pytest.fixture
def history(team, other_team):
    """X is detected, resolved, reopened and resolved again; Y is ignored then opened again;
    Z is detected and has fix activity (which changes nothing)."""
    repository = RepositoryFactory(at=T0, team=team, name="web")
    x = FindingFactory(at=T0, repository=repository, severity="high", status="resolved")
    y = FindingFactory(at=T0, repository=repository, severity="critical")
    z = FindingFactory(at=T0, repository=repository, severity="low")

    def event(finding, when, event_type, new_status=None):
        FindingEventFactory(
            at=T0,
            finding=finding,
            event_timestamp=at(when),
            event_type=event_type,
            new_status=new_status,
        )

    event(x, "2026-03-01T10:00", "detected", "open")
    event(x, "2026-03-03T09:00", "resolved_manual", "resolved")
    event(x, "2026-03-04T09:00", "reopened", "open")
    event(x, "2026-03-06T09:00", "resolved_auto", "resolved")
    event(y, "2026-02-27T08:00", "detected", "open")
    event(y, "2026-03-02T08:00", "status_changed", "ignored")
    event(y, "2026-03-05T08:00", "status_changed", "open")
    event(z, "2026-03-02T23:59", "detected", "open")
    event(z, "2026-03-03T10:00", "fix_started", "open")
    # Another team's history never shows in this team's trends.
    theirs = FindingFactory(
        at=T0, repository=RepositoryFactory(at=T0, team=other_team), severity="high"
    )
    FindingEventFactory(at=T0, finding=theirs, event_timestamp=at("2026-03-02T00:00"))
    return {"repository": repository, "x": x, "y": y, "z": z}


EXPECTED_OPEN = {  # day -> (critical, high, medium, low) open at the end of the day
    date(2026, 3, 1): [1, 1, 0, 0],
    date(2026, 3, 2): [0, 1, 0, 1],
    date(2026, 3, 3): [0, 0, 0, 1],
    date(2026, 3, 4): [0, 1, 0, 1],
    date(2026, 3, 5): [1, 1, 0, 1],
    date(2026, 3, 6): [1, 0, 0, 1],
    date(2026, 3, 7): [1, 0, 0, 1],
}


def test_trends_are_rebuilt_from_events_including_a_reopened_finding(team, history):
    report_snapshots_rebuild(team=team, now=at("2026-03-10T12:00"))
    trend = selectors.trends(scope=scope_of(team, "2026-03-01", "2026-03-07", "2026-03-10T12:00"))

    assert {point.day: point.counts for point in trend.days} == EXPECTED_OPEN
    assert (trend.new, trend.reopened, trend.resolved) == (2, 1, 2)
    assert trend.resolved_by_severity["high"] == 2
    # 1 March 2026 is a Sunday: it closes the week of 23 February.
    assert [(w.week_start, w.new, w.reopened, w.resolved) for w in trend.weeks] == [
        (date(2026, 2, 23), 1, 0, 0),
        (date(2026, 3, 2), 1, 1, 2),
    ]


def test_past_trends_do_not_change_when_history_moves_on(team, history):
    report_snapshots_rebuild(team=team, now=at("2026-03-10T12:00"))
    FindingEventFactory(
        at=T0,
        finding=history["z"],
        event_timestamp=at("2026-03-20T10:00"),
        event_type="resolved_manual",
        new_status="resolved",
    )
    history["z"].status = "resolved"
    history["z"].save()
    report_snapshots_rebuild(team=team, now=at("2026-04-30T12:00"))

    trend = selectors.trends(scope=scope_of(team, "2026-03-01", "2026-03-07", "2026-04-30T12:00"))
    assert {point.day: point.counts for point in trend.days} == EXPECTED_OPEN
    later = selectors.trends(scope=scope_of(team, "2026-03-19", "2026-03-21", "2026-04-30T12:00"))
    assert [point.counts for point in later.days] == [[1, 0, 0, 1], [1, 0, 0, 0], [1, 0, 0, 0]]
    # Rebuilding is idempotent: the same rows again, not more.
    count = DailyFindingSnapshot.objects.filter(team=team).count()
    report_snapshots_rebuild(team=team, now=at("2026-04-30T12:00"))
    assert DailyFindingSnapshot.objects.filter(team=team).count() == count


def test_trends_follow_the_repository_filter(team, history):
    other_repository = RepositoryFactory(
        at=T0, team=team, connection=history["repository"].connection
    )
    FindingEventFactory(
        at=T0,
        finding=FindingFactory(at=T0, repository=other_repository, severity="medium"),
        event_timestamp=at("2026-03-02T00:00"),
    )
    report_snapshots_rebuild(team=team, now=at("2026-03-10T12:00"))
    only_web = selectors.trends(
        scope=scope_of(team, "2026-03-01", "2026-03-07", "2026-03-10T12:00", history["repository"])
    )
    assert {point.day: point.counts for point in only_web.days} == EXPECTED_OPEN
    everything = selectors.trends(
        scope=scope_of(team, "2026-03-01", "2026-03-07", "2026-03-10T12:00")
    )
    assert everything.days[-1].counts == [1, 0, 1, 1]


def test_scan_coverage_lists_repositories_not_scanned_within_the_window(team, other_team):
    scanned = RepositoryFactory(at=T0, team=team, name="scanned")
    connection = scanned.connection
    never = RepositoryFactory(at=T0, team=team, name="never", connection=connection)
    RepositoryFactory(at=T0, team=team, name="archived", connection=connection, archived=True)
    ScanBatchFactory(
        at=T0, repository=scanned, scan_type="semgrep_scan", created_at=at("2026-02-15T00:00")
    )
    ScanBatchFactory(
        at=T0, repository=scanned, scan_type="secrets_scan", created_at=at("2026-01-01T00:00")
    )
    ScanBatchFactory(
        at=T0,
        repository=never,
        scan_type="semgrep_scan",
        status="failed",
        created_at=at("2026-02-28T00:00"),
    )
    ScanBatchFactory(
        at=T0, repository=RepositoryFactory(at=T0, team=other_team), scan_type="sbom_scan"
    )

    scope = scope_of(team, "2026-02-01", "2026-03-01", "2026-03-01T12:00")
    gaps = {gap.scan_type: gap for gap in selectors.scan_coverage(scope=scope, within_days=30)}
    assert [r.name for r, _ in gaps["semgrep_scan"].repositories] == ["never"]
    assert [r.name for r, _ in gaps["secrets_scan"].repositories] == ["never", "scanned"]
    assert gaps["secrets_scan"].repositories[1][1] == at("2026-01-01T00:00")
    assert gaps["sbom_scan"].covered == 0 and gaps["sbom_scan"].total == 2
    wider = {g.scan_type: g for g in selectors.scan_coverage(scope=scope, within_days=90)}
    assert [r.name for r, _ in wider["secrets_scan"].repositories] == ["never"]


def test_repository_table_weights_open_risk_and_counts_breaches(team):
    repository = RepositoryFactory(at=T0, team=team, name="risky")
    calm = RepositoryFactory(at=T0, team=team, name="calm", connection=repository.connection)
    for severity, first in (
        ("critical", "2026-02-01T00:00"),  # breached (7 days)
        ("high", "2026-02-20T00:00"),
        ("high", "2026-02-21T00:00"),
        ("low", "2025-12-01T00:00"),
    ):
        FindingFactory(at=T0, repository=repository, severity=severity, first_detected_at=at(first))
    FindingFactory(at=T0, repository=calm, severity="critical", status="resolved")
    ScanBatchFactory(
        at=T0, repository=repository, scan_type="sbom_scan", completed_at=at("2026-02-02T00:00")
    )

    scope = scope_of(team, "2026-02-01", "2026-03-01", "2026-03-01T12:00")
    table = selectors.repository_table(scope=scope, policy=selectors.sla_policy_of(team))
    assert [row.repository.name for row in table] == ["risky", "calm"]
    risky = table[0]
    assert risky.risk == 10 + 5 + 5 + 1
    assert risky.open_counts == [1, 2, 0, 1]
    assert risky.oldest_open == at("2025-12-01T00:00")
    assert risky.breaches == 1
    assert risky.last_scans["sbom_scan"] == at("2026-02-02T00:00")
    assert table[1].risk == 0 and table[1].oldest_open is None


def test_fix_funnel_and_approval_lead_time(team):
    repository = RepositoryFactory(at=T0, team=team)
    approved = FixFactory(at=T0, repository=repository, created_at=at("2026-02-10T00:00"))
    FixFactory(at=T0, repository=repository, created_at=at("2026-02-11T00:00"))
    FixFactory(at=T0, repository=repository, status="failed", created_at=at("2026-02-12T00:00"))
    FixFactory(at=T0, repository=repository, created_at=at("2026-01-01T00:00"))  # before the period
    approval = FixApprovalFactory(
        fix=approved, diff_sha256="a" * 64, status=FixApproval.Status.APPROVED
    )
    FixApproval.objects.filter(pk=approval.pk).update(
        created_at=at("2026-02-10T08:00"), decided_at=at("2026-02-10T12:00")
    )
    PullRequestFactory(at=T0, fix=approved, merge_status="merged")
    PullRequestFactory(at=T0, fix=approved)

    funnel = selectors.fix_funnel(
        scope=scope_of(team, "2026-02-01", "2026-03-01", "2026-03-01T12:00")
    )
    assert [value for _, value in funnel.steps] == [3, 2, 1, 2, 1]
    assert funnel.approval_lead_time_hours == pytest.approx(4.0)


def test_forecast_at_the_period_pace():
    today = date(2026, 3, 1)
    shrinking = _forecast(label="x", remaining=10, resolved=20, arriving=10, days=10, today=today)
    assert shrinking.net_per_day == 1 and shrinking.reaches_zero_on == today + timedelta(days=10)
    growing = _forecast(label="x", remaining=10, resolved=5, arriving=5, days=10, today=today)
    assert growing.growing and growing.reaches_zero_on is None
    done = _forecast(label="x", remaining=0, resolved=0, arriving=3, days=10, today=today)
    assert not done.growing and done.reaches_zero_on == today


def test_a_repository_replay_takes_the_finding_severity_for_events_without_one(team, history):
    """Kolega's events may carry no severity: a repository's history then counts each
    finding under its own severity, as the team's does."""
    FindingEvent.objects.filter(team=team).update(severity=None)
    report_snapshots_rebuild(team=team, now=at("2026-03-10T12:00"))

    only_web = selectors.trends(
        scope=scope_of(team, "2026-03-01", "2026-03-07", "2026-03-10T12:00", history["repository"])
    )

    assert {point.day: point.counts for point in only_web.days} == EXPECTED_OPEN
    assert only_web.resolved_by_severity["high"] == 2
