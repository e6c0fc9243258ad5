"""Quota readings taken by syncs, so pages that report on quota use never call Kolega.

A successful sync reads the organization's quota balance (`GET /quotas/balance`) and keeps it
in its run's `details["quota"]` as `{"read_at": ..., "balance": {...}}`. Syncs run every
minute; the balance is read at most once per `READING_INTERVAL`, so a sync with nothing new
still makes only its two or three requests. A reading that fails never fails the sync: the
mirror is what the sync is for, and the previous reading still stands.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from triage import kolega
from triage.models import KolegaConnection, SyncRun

logger = logging.getLogger("triage.sync")

# What each of Kolega's quota counters is called on a page.
QUOTA_LABELS = {
    "sast_scans": "SAST scans",
    "deep_ai_scans": "deep AI scans",
    "prs": "fixes and pull requests",
    "repositories": "repositories",
}


@dataclass(frozen=True)
class QuotaMeter:
    """One quota counter as a meter: amber from 75 % of its size, red from 90 %."""

    label: str
    used: int
    total: int
    remaining: int

    @property
    def low(self) -> float:
        return self.total * 0.75

    @property
    def high(self) -> float:
        return self.total * 0.9


READING_INTERVAL = timedelta(minutes=5)
DETAILS_KEY = "quota"


def quota_reading_due(*, connection: KolegaConnection, now: datetime) -> bool:
    """True when no run of the connection kept a reading within the interval."""
    return not SyncRun.objects.filter(
        connection=connection,
        created_at__gte=now - READING_INTERVAL,
        details__has_key=DETAILS_KEY,
    ).exists()


def quota_reading_take(*, connection: KolegaConnection, client: kolega.KolegaClient) -> dict | None:
    """The balance as stored in a run's details, or None when Kolega did not answer it."""
    now = timezone.now()
    try:
        balance = client.quota_balance()
    except kolega.KolegaError as exc:
        logger.warning("quota reading of connection %s failed: %s", connection.pk, exc)
        return None
    return {"read_at": now.isoformat(), "balance": balance.model_dump(mode="json")}
