"""Syncs keep the organization's quota balance so that reports never call Kolega for it."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from tests.mirror_rows import fix_started_upstream
from triage.models import SyncRun
from triage.sync import sync_connection_full, sync_connection_incremental
from triage.sync.quota import READING_INTERVAL

pytestmark = pytest.mark.django_db


def test_a_sync_keeps_the_quota_balance_at_most_once_per_interval(connection, upstream):
    full = sync_connection_full(connection=connection)
    assert full.status == SyncRun.Status.SUCCEEDED, full.error
    reading = full.details["quota"]
    assert reading["balance"] == upstream.quota_balance().model_dump(mode="json")
    read_at = datetime.fromisoformat(reading["read_at"])
    assert abs(timezone.now() - read_at) < timedelta(minutes=1)

    quiet = sync_connection_incremental(connection=connection)
    assert quiet.status == SyncRun.Status.SUCCEEDED, quiet.error
    assert "quota" not in quiet.details
    assert quiet.requests <= 3

    # A fix started upstream draws on the prs counter; once the interval has passed, the
    # next sync reads the balance again and keeps what Kolega says now.
    fix_started_upstream(upstream, status="open")
    SyncRun.objects.filter(connection=connection).update(
        created_at=timezone.now() - READING_INTERVAL - timedelta(seconds=1)
    )
    later = sync_connection_incremental(connection=connection)
    assert later.status == SyncRun.Status.SUCCEEDED, later.error
    balance = later.details["quota"]["balance"]
    assert balance["prs"]["used"] == reading["balance"]["prs"]["used"] + 1
    assert balance == upstream.quota_balance().model_dump(mode="json")
