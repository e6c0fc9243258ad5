"""PostgreSQL upkeep: two prunings at once, ANALYZE after big writes, autovacuum settings;
and a pruning that meets a sync of the connection waits for it."""

import threading
from datetime import timedelta

import pytest
from django.db import connection as db
from django.db import connections

from tests.triage.upkeep.conftest import NOW, RETENTION_DAYS
from triage.models import FindingEvent, FindingEventBaseline, SyncRun, SyncState
from triage.reports.replay import utc_day
from triage.selectors.reports import ReportScope, trends
from triage.services import upkeep
from triage.services.reports import report_snapshots_rebuild
from triage.services.upkeep import history_prune, retention_cutoff
from triage.sync import rows, sync_connection_full, sync_connection_incremental
from triage.sync.lease import lease_acquire, lease_release

postgresql_only = pytest.mark.skipif(
    db.vendor != "postgresql", reason="needs PostgreSQL (DATABASE_URL)"
)
FIRST_KEPT = utc_day(NOW) - timedelta(days=RETENTION_DAYS)


def _figures(team, repositories):
    report_snapshots_rebuild(team=team, now=NOW)
    return [
        trends(
            scope=ReportScope(
                team=team,
                first_day=FIRST_KEPT,
                last_day=utc_day(NOW),
                now=NOW,
                repository=repository,
            )
        )
        for repository in (None, *repositories)
    ]


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_two_prunings_at_once_delete_each_event_once(team, history, retention):
    repositories = history["repositories"]
    before = _figures(team, repositories)
    older = FindingEvent.objects.filter(
        event_timestamp__lt=retention_cutoff(days=RETENTION_DAYS, now=NOW)
    ).count()
    results, errors = [], []
    start = threading.Barrier(2)

    def prune():
        try:
            start.wait()
            results.append(history_prune(now=NOW))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=prune) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert sum(result.totals["finding_events"] for result in results) == older
    assert FindingEvent.objects.count() == history["events"] - older
    assert _figures(team, repositories) == before


@pytest.mark.django_db
def test_a_pruning_waits_for_the_connections_sync_and_leaves_it_for_later(
    team, history, retention, monkeypatch
):
    monkeypatch.setattr(upkeep, "LEASE_WAIT_SECONDS", 0.2)
    monkeypatch.setattr(upkeep, "LEASE_POLL_SECONDS", 0.05)
    connection = history["connection"]
    assert lease_acquire(connection=connection, owner="run-1")

    busy = history_prune(now=NOW)

    assert busy.connections_busy == [connection.pk]
    assert FindingEvent.objects.count() == history["events"]
    assert SyncState.objects.get(connection=connection).events_pruned_before is None
    lease_release(connection=connection, owner="run-1")
    assert history_prune(now=NOW).totals["finding_events"] > 0


def _last_analyze(table):
    with db.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = %s", [table])
        return cursor.fetchone()[0]


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_big_sync_analyzes_the_tables_it_wrote_and_a_small_one_does_not(connection, settings):
    settings.PORTAL_ANALYZE_AFTER_ROWS = 50
    events_analyzed = _last_analyze("triage_findingevent")

    full = sync_connection_full(connection=connection)

    assert full.status == SyncRun.Status.SUCCEEDED, full.error
    assert full.rows_written >= 50
    after_full = _last_analyze("triage_findingevent")
    assert after_full is not None and after_full != events_analyzed
    assert _last_analyze("triage_finding") is not None

    small = sync_connection_incremental(connection=connection)

    assert small.status == SyncRun.Status.SUCCEEDED, small.error
    assert small.rows_written < 50
    assert _last_analyze("triage_findingevent") == after_full


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_big_pruning_analyzes_the_events_table(team, history, retention, settings):
    settings.PORTAL_ANALYZE_AFTER_ROWS = 10
    before = _last_analyze("triage_findingevent")

    result = history_prune(now=NOW)

    assert result.totals["finding_events"] >= 10
    assert result.analyzed
    assert _last_analyze("triage_findingevent") not in (None, before)


@pytest.mark.django_db
def test_statistics_are_refreshed_only_past_the_threshold(settings):
    settings.PORTAL_ANALYZE_AFTER_ROWS = 100
    assert rows.statistics_refresh_after({"findings": 60, "finding_events": 39}) is False
    # On SQLite there are no statistics to refresh: nothing is done, and it says so.
    assert rows.statistics_refresh_after({"findings": 60, "finding_events": 40}) is (
        db.vendor == "postgresql"
    )


@postgresql_only
@pytest.mark.django_db
def test_the_big_tables_are_vacuumed_and_analyzed_sooner_than_the_default():
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reloptions FROM pg_class WHERE relname = ANY(%s)",
            [["triage_finding", "triage_findingevent"]],
        )
        options = dict(cursor.fetchall())
    for table in ("triage_finding", "triage_findingevent"):
        assert "autovacuum_vacuum_scale_factor=0.02" in options[table], table
        assert "autovacuum_analyze_scale_factor=0.01" in options[table], table


@pytest.mark.django_db
def test_baselines_go_with_their_connection(team, history, retention):
    history_prune(now=NOW)
    assert FindingEventBaseline.objects.exists()
    history["connection"].delete()
    assert not FindingEventBaseline.objects.exists()
