"""Trend flows since the day of the last snapshot rebuild, read from the mirror."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import FindingEventFactory, FindingFactory, RepositoryFactory
from triage.selectors import reports as selectors
from triage.selectors.reports import ReportScope
from triage.services.reports import report_snapshots_rebuild

pytestmark = pytest.mark.django_db


def test_flows_read_from_the_mirror_are_not_counted_twice(team):
    """A resolution the last rebuild already counted is read from the mirror instead, not
    as well; a reopening without a severity takes its finding's."""
    now = timezone.now()
    today = selectors.utc_today(now)
    repository = RepositoryFactory(team=team)
    resolved = FindingFactory(
        repository=repository,
        severity="high",
        status="resolved",
        first_detected_at=now - timedelta(days=20),
        resolved_at=now - timedelta(minutes=30),
    )
    FindingEventFactory(finding=resolved, event_timestamp=resolved.first_detected_at)
    FindingEventFactory(
        finding=resolved,
        event_type="resolved_manual",
        new_status="resolved",
        event_timestamp=resolved.resolved_at,
    )
    reopened = FindingFactory(
        repository=repository, severity="critical", first_detected_at=now - timedelta(days=9)
    )
    FindingEventFactory(finding=reopened, event_timestamp=reopened.first_detected_at)
    FindingEventFactory(
        finding=reopened,
        event_type="resolved_auto",
        new_status="resolved",
        event_timestamp=now - timedelta(days=5),
    )
    FindingEventFactory(
        finding=reopened,
        event_type="reopened",
        new_status="open",
        severity=None,
        event_timestamp=now - timedelta(minutes=20),
    )
    report_snapshots_rebuild(team=team, now=now)
    scope = ReportScope(team=team, first_day=today - timedelta(days=29), last_day=today, now=now)

    from_snapshots = selectors.trends(scope=scope)
    overlaid = selectors.trends(scope=scope, mirror_from=today)

    assert from_snapshots.resolved == overlaid.resolved == 2
    assert overlaid.resolved_by_severity["high"] == 1
    assert from_snapshots.reopened == overlaid.reopened == 1
    assert overlaid.reopened_by_severity["critical"] == 1
    assert [p.open_by_severity for p in overlaid.days] == [
        p.open_by_severity for p in from_snapshots.days
    ]
