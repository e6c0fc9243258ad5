import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from triage.kolega.retry import RetryPolicy, parse_retry_after

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("-3", 0.0),
        (format_datetime(NOW + timedelta(seconds=42), usegmt=True), 42.0),
        (format_datetime(NOW - timedelta(minutes=5), usegmt=True), 0.0),
        ("Sun, 01 Mar 2026 12:00:10 GMT", 10.0),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(header, seconds):
    assert parse_retry_after(header, now=NOW) == pytest.approx(seconds)


@pytest.mark.parametrize("header", [None, "", "soon", "nan", "inf", "Mon, 99 Foo 2026"])
def test_unreadable_retry_after_is_none(header):
    assert parse_retry_after(header, now=NOW) is None


def test_backoff_is_full_jitter_under_an_exponential_ceiling():
    policy = RetryPolicy(backoff_base=0.5, backoff_cap=4.0)
    rng = random.Random(99)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 4.0), (9, 4.0)]:
        waits = [policy.backoff(attempt=attempt, rng=rng) for _ in range(300)]
        assert all(0 <= wait <= ceiling for wait in waits)
        # Full jitter spreads over the whole range instead of clustering at the ceiling.
        assert min(waits) < ceiling * 0.1
        assert max(waits) > ceiling * 0.9
