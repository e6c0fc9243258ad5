"""Quota use beside the fix funnel: the readings syncs keep, and the fixes and pull requests
of the quota period counted from the mirror."""

from datetime import datetime

import pytest
from django.urls import reverse

from tests.factories import (
    T0,
    FixFactory,
    PullRequestFactory,
    RepositoryFactory,
    at,
)
from tests.mirror_rows import fix_started_upstream
from triage.kolega import KolegaClient
from triage.models import Fix, Role, SyncRun
from triage.selectors import reports as selectors
from triage.sync import sync_connection_full

pytestmark = pytest.mark.django_db


# Quota periods, as Kolega's balance gives them (start, end).
FEBRUARY = ("2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z")
MARCH = ("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z")


def reading(*, read_at, start, end, prs_used, prs_plan=100) -> dict:
    counter = {"plan": 10, "topup": 0, "used": 0, "remaining": 10}
    return {
        "read_at": read_at,
        "balance": {
            "period_start": start,
            "period_end": end,
            "prs": {"plan": prs_plan, "topup": 5, "used": prs_used, "remaining": 0},
            "sast_scans": counter,
            "deep_ai_scans": counter,
            "repositories": {"max": None, "current": 1},
        },
    }


def keep(connection, details: dict, created_at: datetime) -> None:
    """A finished sync run as `triage.sync.runs` records it, with the given details."""
    run = SyncRun.objects.create(
        connection=connection, team=connection.team, kind="incremental", details=details
    )
    SyncRun.objects.filter(pk=run.pk).update(created_at=created_at, status="succeeded")


def keep_reading(connection, read_at: str, *, period: tuple[str, str], prs_used: int) -> None:
    """A sync run at ``read_at`` that kept a reading of the quota ``period`` (start, end)."""
    start, end = period
    details = {"quota": reading(read_at=read_at, start=start, end=end, prs_used=prs_used)}
    keep(connection, details, datetime.fromisoformat(read_at))


def test_quota_use_counts_fixes_and_pull_requests_of_the_quota_period(team, other_team):
    repository = RepositoryFactory(at=T0, team=team)
    connection = repository.connection
    now = at("2026-03-20T12:00")
    keep_reading(
        connection,
        "2026-03-19T08:00:00+00:00",
        period=MARCH,
        prs_used=7,
    )
    keep(connection, {"rows": {"findings": 3}}, at("2026-03-20T11:00"))  # no reading kept
    # An older reading of the previous period is not the last one.
    keep_reading(
        connection,
        "2026-02-27T08:00:00+00:00",
        period=FEBRUARY,
        prs_used=99,
    )
    in_period = FixFactory(at=T0, repository=repository, created_at=at("2026-03-02T00:00"))
    FixFactory(at=T0, repository=repository, created_at=at("2026-03-20T11:59"))
    FixFactory(at=T0, repository=repository, created_at=at("2026-02-28T23:59"))  # previous period
    PullRequestFactory(at=T0, fix=in_period, created_at=at("2026-03-05T00:00"))
    PullRequestFactory(at=T0, fix=in_period, created_at=at("2026-02-20T00:00"))  # previous period
    FixFactory(
        at=T0,
        repository=RepositoryFactory(at=T0, team=other_team),
        created_at=at("2026-03-10T00:00"),
    )

    [use] = selectors.quota_use(team=team, now=now)
    assert use.connection == connection
    assert use.read_at == at("2026-03-19T08:00")
    assert (use.period_start, use.period_end) == (at("2026-03-01T00:00"), at("2026-04-01T00:00"))
    assert use.current and use.elapsed_percent == 63  # 19.5 of 31 days
    prs = use.counters[0]
    assert (prs.counter, prs.used, prs.total, prs.remaining) == ("prs", 7, 105, 0)
    assert [c.counter for c in use.counters] == ["prs", "sast_scans", "deep_ai_scans"]
    assert (use.fixes_started, use.pull_requests_opened) == (2, 1)

    # Past the period's end the reading is shown as ended, not as the current period.
    keep_reading(
        connection,
        "2026-03-31T23:00:00+00:00",
        period=MARCH,
        prs_used=9,
    )
    [ended] = selectors.quota_use(team=team, now=at("2026-04-01T00:30"))
    assert not ended.current and ended.elapsed_percent == 100
    assert ended.counters[0].used == 9
    # A reading older than the lookback is not shown as the balance.
    [gone] = selectors.quota_use(team=team, now=at("2026-04-03T00:00"))
    assert gone.read_at is None


def test_a_connection_without_a_reading_says_so(team, member, client_as):
    RepositoryFactory(at=T0, team=team)
    [use] = selectors.quota_use(team=team, now=at("2026-03-20T12:00"))
    assert use.read_at is None and use.counters == []
    body = client_as(member(Role.VIEWER)).get(reverse("reports", args=[team.slug])).content
    assert b"No quota reading in the last two days" in body


def test_the_report_never_decrypts_an_api_key(team, member, client_as, monkeypatch):
    RepositoryFactory(at=T0, team=team)

    def decrypt(token):
        raise AssertionError("the reports page decrypted an API key")

    monkeypatch.setattr("triage.encryption.decrypt", decrypt)
    response = client_as(member(Role.VIEWER)).get(reverse("reports", args=[team.slug]))
    assert response.status_code == 200
    assert b"No quota reading in the last two days" in response.content


@pytest.fixture
def synced(connection, upstream):
    """A connection to the sandbox's demo organization with one fix started, fully synced."""
    fix_started_upstream(upstream)
    balance = upstream.quota_balance()
    run = sync_connection_full(connection=connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    return connection, balance


def test_the_report_shows_the_quota_the_sync_read_without_calling_kolega(
    team, member, client_as, synced, monkeypatch
):
    connection, balance = synced
    assert Fix.objects.filter(connection=connection).count() == 1

    def no_kolega(*args, **kwargs):
        raise AssertionError("the report called Kolega")

    monkeypatch.setattr(KolegaClient, "_call", no_kolega)
    response = client_as(member(Role.VIEWER)).get(reverse("reports", args=[team.slug]))
    assert response.status_code == 200
    body = response.content.decode()
    prs = balance.prs
    assert "In the portal this period: 1 fix started · 0 pull requests opened</span></td>" in body
    assert (
        f'<td class="num">{prs.used}</td><td class="num">{prs.plan + prs.topup}</td>'
        f'<td class="num">{prs.remaining}</td>'
    ) in body
    assert f"{balance.period_end:%-d %b %Y}" in body
