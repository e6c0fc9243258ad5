"""A team with a finding history that crosses the retention boundary."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import (
    FindingEventFactory,
    FindingFactory,
    KolegaConnectionFactory,
    RepositoryFactory,
)
from tests.triage.reports.conftest import empty_cache  # noqa: F401  (reports are cached)
from triage.models import SyncState

# Noon, so "now" is well inside its UTC day.
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
RETENTION_DAYS = 30
HISTORY_DAYS = 75

# What happens to a finding, one step at a time: (event type, new status, severity or None).
STEPS = [
    ("status_changed", "resolved", None),
    ("status_changed", "ignored", None),
    ("status_changed", "needs_manual_review", None),
    ("status_changed", None, None),
    ("resolved_auto", "resolved", None),
    ("resolved_manual", "resolved", "medium"),
    ("reopened", "open", None),
    ("reopened", "open", "critical"),
    ("fix_started", None, None),
    ("fix_completed", None, "low"),
    ("detected", "open", "high"),
]


@pytest.fixture
def retention(settings):
    settings.PORTAL_EVENTS_RETENTION_DAYS = RETENTION_DAYS
    settings.PORTAL_SYNC_RUNS_RETENTION_DAYS = RETENTION_DAYS
    # Small batches: a finding's events are split across batches.
    settings.PORTAL_PRUNE_BATCH_SIZE = 7
    return settings


@pytest.fixture
def history(team):
    """Two repositories, 40 findings, each detected once and changed a few times over the
    last 75 days (some events without a severity), so the 30-day boundary cuts through
    most findings' histories."""
    chance = random.Random(21)
    connection = KolegaConnectionFactory(team=team)
    SyncState.objects.create(connection=connection, events_cursor=NOW - timedelta(hours=1))
    repositories = [RepositoryFactory(team=team, connection=connection) for _ in range(2)]
    events = 0
    for index in range(40):
        repository = repositories[index % 2]
        detected = NOW - timedelta(days=chance.uniform(1, HISTORY_DAYS), hours=chance.random())
        finding = FindingFactory(
            repository=repository,
            severity=chance.choice(["critical", "high", "medium", "low"]),
            first_detected_at=detected,
        )
        FindingEventFactory(
            finding=finding,
            event_timestamp=detected,
            severity=None if index % 5 == 0 else finding.severity,
        )
        events += 1
        at = detected
        for _ in range(chance.randint(0, 6)):
            at += timedelta(days=chance.uniform(0.1, 12))
            if at >= NOW:
                break
            event_type, new_status, severity = chance.choice(STEPS)
            FindingEventFactory(
                finding=finding,
                event_type=event_type,
                new_status=new_status,
                severity=severity,
                event_timestamp=at,
            )
            events += 1
    return {"connection": connection, "repositories": repositories, "events": events}
