"""Syncs after a pruning: the incremental cursor is the connection's own, and no sync writes
back an event older than the connection's horizon, whatever the feed answers."""

from datetime import timedelta

import pytest

from triage.models import FindingEvent, FindingEventBaseline, SyncRun, SyncState
from triage.services.upkeep import history_prune, retention_cutoff
from triage.sync import sync_connection_full, sync_connection_incremental

pytestmark = pytest.mark.django_db


@pytest.fixture
def pruned(connection, settings):
    """The demo organization synced, then its older events pruned (the horizon in the
    middle of its history)."""
    settings.PORTAL_EVENTS_RETENTION_DAYS = 1
    assert sync_connection_full(connection=connection).status == SyncRun.Status.SUCCEEDED
    events = FindingEvent.objects.filter(connection=connection)
    stamps = sorted(events.values_list("event_timestamp", flat=True))
    now = stamps[-1] - timedelta(days=1)
    horizon = retention_cutoff(days=1, now=now)
    older = events.filter(event_timestamp__lt=horizon).count()
    assert 0 < older < len(stamps)
    cursor = SyncState.objects.get(connection=connection).events_cursor

    assert history_prune(now=now).totals["finding_events"] == older

    return {
        "horizon": horizon,
        "kept": events.count(),
        "oldest": stamps[0],
        "cursor": cursor,
        "baselines": FindingEventBaseline.objects.filter(connection=connection).count(),
    }


def test_pruning_leaves_the_cursor_where_the_sync_put_it(connection, pruned):
    state = SyncState.objects.get(connection=connection)
    assert state.events_cursor == pruned["cursor"]
    assert state.events_pruned_before == pruned["horizon"]
    assert not FindingEvent.objects.filter(event_timestamp__lt=pruned["horizon"]).exists()


def test_an_incremental_sync_reading_from_before_the_horizon_writes_no_pruned_event(
    connection, pruned
):
    """A quiet connection's cursor can be older than the horizon: the feed then answers
    events the mirror has folded into baselines; they are not written again."""
    SyncState.objects.filter(connection=connection).update(events_cursor=pruned["oldest"])

    run = sync_connection_incremental(connection=connection)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.details["rows"].get("finding_events", 0) == 0
    events = FindingEvent.objects.filter(connection=connection)
    assert not events.filter(event_timestamp__lt=pruned["horizon"]).exists()
    assert events.count() == pruned["kept"]
    # Nothing newer came: they are not taken for new events either.
    assert SyncState.objects.get(connection=connection).events_cursor == pruned["oldest"]


def test_a_full_sync_after_pruning_writes_no_pruned_event(connection, pruned):
    run = sync_connection_full(connection=connection)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    events = FindingEvent.objects.filter(connection=connection)
    assert not events.filter(event_timestamp__lt=pruned["horizon"]).exists()
    assert events.count() == pruned["kept"]
    assert (
        FindingEventBaseline.objects.filter(connection=connection).count() == (pruned["baselines"])
    )
