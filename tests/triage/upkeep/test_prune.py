"""Old finding events and sync runs are deleted in batches, and the reports over the days
kept give the same figures as before."""

import logging
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import FindingEventFactory, KolegaConnectionFactory
from tests.triage.upkeep.conftest import NOW, RETENTION_DAYS
from triage.models import (
    AuditEvent,
    DailyFindingSnapshot,
    FindingEvent,
    FindingEventBaseline,
    Role,
    SyncRun,
    SyncState,
)
from triage.reports.replay import utc_day
from triage.selectors.audit import action_label, details_sentence
from triage.selectors.reports import ReportScope, trends
from triage.services.reports import report_snapshots_rebuild
from triage.services.upkeep import history_prune, retention_cutoff

pytestmark = pytest.mark.django_db

TODAY = utc_day(NOW)
FIRST_KEPT = TODAY - timedelta(days=RETENTION_DAYS)


def _figures(team, repositories, first_day, last_day=TODAY):
    """The trends of the team (from rebuilt snapshots) and of each repository (replayed)."""
    report_snapshots_rebuild(team=team, now=NOW)
    return [
        trends(
            scope=ReportScope(
                team=team, first_day=first_day, last_day=last_day, now=NOW, repository=repository
            )
        )
        for repository in (None, *repositories)
    ]


def test_the_first_day_kept_starts_at_midnight_utc():
    cutoff = retention_cutoff(days=RETENTION_DAYS, now=NOW)
    assert cutoff.date() == FIRST_KEPT
    assert (cutoff.hour, cutoff.minute, cutoff.utcoffset()) == (0, 0, timedelta(0))
    assert retention_cutoff(days=0, now=NOW) is None


def test_reports_over_the_days_kept_are_the_same_after_pruning(team, history, retention):
    repositories = history["repositories"]
    periods = [(FIRST_KEPT, TODAY), (FIRST_KEPT + timedelta(days=9), TODAY - timedelta(days=4))]
    before = [_figures(team, repositories, *period) for period in periods]
    old = FindingEvent.objects.filter(event_timestamp__lt=retention_cutoff(days=30, now=NOW))
    pruned = old.count()
    assert 0 < pruned < history["events"]
    assert sum(point.open_total for point in before[0][0].days) > 0

    result = history_prune(now=NOW)

    assert result.totals["finding_events"] == pruned
    assert not old.exists()
    assert FindingEvent.objects.count() == history["events"] - pruned
    assert FindingEventBaseline.objects.filter(team=team).exists()
    after = [_figures(team, repositories, *period) for period in periods]
    assert after == before


def test_a_second_run_deletes_nothing_and_changes_no_figure(team, history, retention):
    repositories = history["repositories"]
    history_prune(now=NOW)
    figures = _figures(team, repositories, FIRST_KEPT)
    baselines = list(FindingEventBaseline.objects.order_by("pk").values_list())

    again = history_prune(now=NOW)

    assert again.totals["finding_events"] == 0
    assert list(FindingEventBaseline.objects.order_by("pk").values_list()) == baselines
    assert _figures(team, repositories, FIRST_KEPT) == figures


def test_the_next_night_moves_the_horizon_and_the_figures_still_agree(team, history, retention):
    """Pruning night after night folds each day's events into the baselines already there."""
    repositories = history["repositories"]
    later = NOW + timedelta(days=10)
    history_prune(now=NOW)
    expected = _figures(team, repositories, FIRST_KEPT + timedelta(days=10))

    history_prune(now=later)

    state = SyncState.objects.get(connection=history["connection"])
    assert state.events_pruned_before == retention_cutoff(days=RETENTION_DAYS, now=later)
    assert _figures(team, repositories, FIRST_KEPT + timedelta(days=10)) == expected


def test_snapshot_rows_of_days_no_longer_replayable_are_kept(team, history, retention):
    report_snapshots_rebuild(team=team, now=NOW)
    old_rows = list(
        DailyFindingSnapshot.objects.filter(team=team, day__lt=FIRST_KEPT)
        .order_by("day", "severity")
        .values_list("day", "severity", "open_count", "new_count", "resolved_count")
    )
    assert old_rows

    history_prune(now=NOW)
    report_snapshots_rebuild(team=team, now=NOW)

    assert (
        list(
            DailyFindingSnapshot.objects.filter(team=team, day__lt=FIRST_KEPT)
            .order_by("day", "severity")
            .values_list("day", "severity", "open_count", "new_count", "resolved_count")
        )
        == old_rows
    )


def test_each_run_is_audited_per_team_and_logged(team, history, retention, caplog):
    pruned = FindingEvent.objects.filter(
        event_timestamp__lt=retention_cutoff(days=RETENTION_DAYS, now=NOW)
    ).count()
    with caplog.at_level(logging.INFO, logger="triage.upkeep"):
        history_prune(now=NOW)

    entry = AuditEvent.objects.get(team=team, action="history.prune")
    assert entry.actor_label == "system"
    assert entry.details["finding_events"] == pruned
    assert entry.details["events_retention_days"] == RETENTION_DAYS
    assert action_label("history.prune") == "Old history deleted"
    assert details_sentence("history.prune", entry.details) == (
        f"Deleted {pruned} finding events older than {RETENTION_DAYS} days"
    )
    assert f"history pruned: {pruned} finding events before {FIRST_KEPT}" in caplog.text


def test_nothing_is_deleted_when_retention_is_zero(team, history, settings):
    settings.PORTAL_EVENTS_RETENTION_DAYS = 0
    settings.PORTAL_SYNC_RUNS_RETENTION_DAYS = 0

    result = history_prune(now=NOW)

    assert result.totals == {}
    assert FindingEvent.objects.count() == history["events"]
    assert SyncState.objects.get(connection=history["connection"]).events_pruned_before is None
    assert not AuditEvent.objects.filter(action="history.prune").exists()


def _run(connection, days_ago, status=SyncRun.Status.SUCCEEDED):
    run = SyncRun.objects.create(
        connection=connection, team=connection.team, kind="incremental", status=status
    )
    SyncRun.objects.filter(pk=run.pk).update(created_at=NOW - timedelta(days=days_ago))
    return run.pk


def test_old_sync_runs_go_but_each_connection_keeps_its_latest(team, retention):
    busy = KolegaConnectionFactory(team=team)
    quiet = KolegaConnectionFactory(team=team)
    recent = [_run(busy, days) for days in (1, 2, 29)]
    old = [_run(busy, days) for days in (31, 40, 200)]
    stuck = _run(busy, 50, status=SyncRun.Status.RUNNING)
    # The quiet connection's last sync is old: it stays, as does its last run that did
    # something (a later one only found the connection busy).
    quiet_last_good = _run(quiet, 100)
    quiet_last = _run(quiet, 90, status=SyncRun.Status.SKIPPED)
    quiet_old = _run(quiet, 120)

    result = history_prune(now=NOW)

    kept = set(SyncRun.objects.values_list("pk", flat=True))
    assert kept == {*recent, stuck, quiet_last_good, quiet_last}
    assert not kept & {*old, quiet_old}
    assert result.totals["sync_runs"] == 4
    assert AuditEvent.objects.get(action="history.prune").details["sync_runs"] == 4


def test_sync_runs_are_deleted_in_batches(team, retention):
    connection = KolegaConnectionFactory(team=team)
    latest = _run(connection, 0)
    for days in range(31, 31 + 20):
        _run(connection, days)

    assert history_prune(now=NOW).totals["sync_runs"] == 20  # batches of 7
    assert list(SyncRun.objects.values_list("pk", flat=True)) == [latest]


def test_report_page_says_when_the_period_starts_before_the_events_kept(
    team, member, client_as, settings
):
    settings.PORTAL_EVENTS_RETENTION_DAYS = 60
    connection = KolegaConnectionFactory(team=team)
    horizon = retention_cutoff(days=60, now=timezone.now())
    SyncState.objects.create(connection=connection, events_pruned_before=horizon)
    client = client_as(member(Role.VIEWER))
    url = reverse("reports", kwargs={"team_slug": team.slug})

    within = client.get(url, {"period": "30"})
    beyond = client.get(url, {"period": "90"})

    assert within.context["history_kept_from"] is None
    assert b"are not kept" not in within.content
    assert beyond.context["history_kept_from"] == horizon.date()
    day = f"{horizon.day} {horizon:%b %Y}"
    assert (
        f"Events before {day} are not kept (retention 60 days): trends start there"
        in beyond.content.decode()
    )


def test_replayed_trends_start_at_the_first_day_kept(team, history, retention):
    """A repository's trends have nothing to replay before the first day kept: the days
    before it are empty rather than counted from part of the history."""
    repository = history["repositories"][0]
    history_prune(now=NOW)
    scope = ReportScope(
        team=team,
        first_day=FIRST_KEPT - timedelta(days=20),
        last_day=TODAY,
        now=NOW,
        repository=repository,
    )

    days = trends(scope=scope).days

    assert all(point.open_total == 0 for point in days if point.day < FIRST_KEPT)
    assert any(point.open_total for point in days if point.day >= FIRST_KEPT)


def test_events_without_a_finding_in_the_mirror_are_pruned_too(team, retention):
    connection = KolegaConnectionFactory(team=team)
    FindingEventFactory(
        connection=connection, finding_upstream_id="gone", event_timestamp=NOW - timedelta(days=90)
    )

    assert history_prune(now=NOW).totals["finding_events"] == 1
    baseline = FindingEventBaseline.objects.get(connection=connection)
    assert (baseline.finding_upstream_id, baseline.status) == ("gone", "open")
