"""Report figures kept in the cache: exact as time moves on, and never older than the mirror."""

from datetime import UTC, date, datetime, timedelta

import pytest

from tests.factories import T0, FindingFactory, RepositoryFactory, UserFactory
from triage.models import Finding, SyncRun
from triage.reports import cache as report_cache
from triage.selectors import reports as selectors
from triage.selectors.reports import ReportScope
from triage.services.audit import audit_log

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def scope_at(team, now, repository=None) -> ReportScope:
    return ReportScope(
        team=team,
        first_day=date(2026, 2, 1),
        last_day=date(2026, 3, 1),
        now=now,
        repository=repository,
    )


@pytest.fixture
def open_findings(team):
    repository = RepositoryFactory(at=T0, team=team, name="api")
    for severity, first in (
        ("critical", NOW - timedelta(days=7, minutes=-30)),  # breaches 30 minutes from now
        ("critical", NOW - timedelta(minutes=10)),  # a 7-day SLA: due soon from the start
        ("high", NOW - timedelta(days=30, minutes=-5)),  # breaches in 5 minutes
        ("high", NOW - timedelta(days=23, minutes=-20)),  # due soon in 20 minutes
        ("medium", NOW - timedelta(days=200)),  # breached long ago
        ("low", NOW - timedelta(days=1)),
    ):
        FindingFactory(at=T0, repository=repository, severity=severity, first_detected_at=first)
    FindingFactory(
        at=T0,
        repository=repository,
        severity="critical",
        status="resolved",
        first_detected_at=NOW - timedelta(days=7, minutes=-15),
    )
    return repository


@pytest.mark.parametrize("minutes", [1, 5, 12, 25, 30, 45, 24 * 60, -15])
def test_kept_sla_counts_are_moved_on_to_the_moment_of_the_request(
    team, open_findings, minutes, django_assert_max_num_queries
):
    policy = selectors.sla_policy_of(team)
    version = report_cache.mirror_version(team=team, now=NOW)
    scope = scope_at(team, NOW)
    kept = report_cache.open_finding_stats(scope=scope, policy=policy, version=version)
    assert kept == selectors.open_finding_stats(scope=scope, policy=policy)

    later = scope_at(team, NOW + timedelta(minutes=minutes))
    with django_assert_max_num_queries(1):  # the findings that crossed an edge, at both moments
        moved = report_cache.open_finding_stats(scope=later, policy=policy, version=version)
    assert moved == selectors.open_finding_stats(scope=later, policy=policy)


def test_moved_counts_follow_each_finding_across_its_deadline(team, open_findings):
    policy = selectors.sla_policy_of(team)
    version = report_cache.mirror_version(team=team, now=NOW)

    def counts(severity, minutes):
        scope = scope_at(team, NOW + timedelta(minutes=minutes))
        stats = report_cache.open_finding_stats(scope=scope, policy=policy, version=version)
        row = stats[(open_findings.pk, severity)]
        return row.open, row.breached, row.due_soon

    assert counts("critical", 0) == (2, 0, 2)
    assert counts("critical", 29) == (2, 0, 2)
    assert counts("critical", 31) == (2, 1, 1)  # past its deadline, no longer "due soon"
    assert counts("high", 0) == (2, 0, 1)
    assert counts("high", 6) == (2, 1, 0)
    assert counts("high", 21) == (2, 1, 1)  # the other one's deadline is 7 days away now


def test_a_sync_that_writes_rows_or_an_audited_write_changes_the_version(team):
    repository = RepositoryFactory(at=T0, team=team)
    versions = {report_cache.mirror_version(team=team, now=NOW)}

    quiet = SyncRun.objects.create(
        connection=repository.connection, team=team, kind=SyncRun.Kind.INCREMENTAL
    )
    SyncRun.objects.filter(pk=quiet.pk).update(created_at=NOW, status=SyncRun.Status.SUCCEEDED)
    assert report_cache.mirror_version(team=team, now=NOW) in versions  # it wrote nothing

    writing = SyncRun.objects.create(
        connection=repository.connection, team=team, kind=SyncRun.Kind.INCREMENTAL
    )
    SyncRun.objects.filter(pk=writing.pk).update(created_at=NOW, rows_written=0)
    for rows in (3, 8):  # a run still writing pages moves the version with each page
        SyncRun.objects.filter(pk=writing.pk).update(rows_written=rows)
        version = report_cache.mirror_version(team=team, now=NOW)
        assert version not in versions
        versions.add(version)

    audit_log(team=team, actor=UserFactory(), action="finding.status_change")
    assert report_cache.mirror_version(team=team, now=NOW) not in versions


def test_figures_follow_an_audited_change_of_the_mirror(team, open_findings):
    policy = selectors.sla_policy_of(team)
    scope = scope_at(team, NOW)

    def figures():
        version = report_cache.mirror_version(team=team, now=NOW)
        stats = report_cache.open_finding_stats(scope=scope, policy=policy, version=version)
        remediation = report_cache.time_to_remediate(scope=scope, version=version)
        return sum(s.open for s in stats.values()), sum(r.resolved for r in remediation)

    assert figures() == (6, 0)
    finding = Finding.objects.get(repository=open_findings, severity="low")
    finding.status, finding.resolved_at = "resolved", NOW - timedelta(hours=1)
    finding.save()
    assert figures() == (6, 0)  # written behind the portal's back: the kept figures stand
    audit_log(team=team, actor=UserFactory(), action="finding.status_change", target=finding)
    assert figures() == (5, 1)


def test_one_pass_keeps_both_groupings_exactly(
    team, open_findings, member, django_assert_num_queries
):
    """The page's open-finding stats by repository and by owner come from one pass over the
    open findings, rolled up: the same figures as each grouping counted on its own."""
    from triage.models import Role, Squad

    other = RepositoryFactory(at=T0, team=team, name="web")
    squad = Squad.objects.create(team=team, name="payments")
    owner = member(Role.TRIAGER)
    Finding.objects.filter(repository=open_findings, severity="critical").update(owner_squad=squad)
    Finding.objects.filter(repository=open_findings, severity="high").update(owner_member=owner)
    FindingFactory(
        at=T0,
        repository=other,
        severity="critical",
        owner_squad=squad,
        first_detected_at=NOW - timedelta(days=40),
    )
    FindingFactory(
        at=T0, repository=other, severity="high", first_detected_at=NOW - timedelta(days=2)
    )
    policy = selectors.sla_policy_of(team)
    version = report_cache.mirror_version(team=team, now=NOW)
    scope = scope_at(team, NOW)

    with django_assert_num_queries(1):
        by_repository = report_cache.open_finding_stats(scope=scope, policy=policy, version=version)
        by_owner = report_cache.open_finding_stats(
            scope=scope, policy=policy, version=version, by=selectors.BY_OWNER
        )

    assert by_repository == selectors.open_finding_stats(scope=scope, policy=policy)
    assert by_owner == selectors.open_finding_stats(
        scope=scope, policy=policy, by=selectors.BY_OWNER
    )
    assert by_owner[(squad.pk, None, "critical")].open == 3
    assert by_repository[(other.pk, "critical")].breached == 1
