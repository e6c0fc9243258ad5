"""Reports by owner: the owner table (per squad, member and the unowned), its CSV, and the
owner filter that narrows every section of the report."""

import csv
import dataclasses
import io

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import (
    T0,
    FindingEventFactory,
    FindingFactory,
    FixFactory,
    RepositoryFactory,
    at,
)
from tests.triage.reports.test_cache import scope_at
from triage.forms.reports import OWNER_INVALID
from triage.models import Role, Squad
from triage.selectors import reports as selectors
from triage.selectors.reports import ReportOwner, ReportScope

pytestmark = pytest.mark.django_db

NOW = at("2026-03-01T12:00")
PERIOD = "period=custom&start=2026-02-01&end=2026-03-01"


def url(name, team, query=""):
    return reverse(name, kwargs={"team_slug": team.slug}) + (f"?{query}" if query else "")


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    monkeypatch.setattr("triage.views.reports._now", lambda: NOW)


class World:
    pass


@pytest.fixture
def world(team, other_team, member):
    """Open and resolved findings of two squads, two members and nobody (default SLA policy:
    critical 7 days, high 30, medium 90, low 180)."""
    w = World()
    w.repository = RepositoryFactory(at=T0, team=team, name="payments-api")
    w.payments = Squad.objects.create(team=team, name="payments")
    w.platform = Squad.objects.create(team=team, name="platform")
    w.alice = member(Role.TRIAGER, username="alice")
    w.bob = member(Role.TRIAGER, username="bob")

    def finding(severity, first, *, squad=None, owner=None, status="open", resolved=None):
        return FindingFactory(
            at=T0,
            repository=w.repository,
            severity=severity,
            status=status,
            first_detected_at=at(first),
            resolved_at=at(resolved) if resolved else None,
            owner_squad=squad,
            owner_member=owner,
        )

    # Open: the squad and alice's (past SLA), the squad's alone, bob's (past SLA), unowned.
    w.shared = finding("critical", "2026-02-01T00:00", squad=w.payments, owner=w.alice)
    w.squad_only = finding("high", "2026-02-25T00:00", squad=w.payments)
    w.bobs = finding("high", "2026-01-01T00:00", owner=w.bob)
    w.unowned = finding("medium", "2026-02-20T00:00")
    finding("low", "2025-08-01T00:00", status="needs_manual_review")  # unowned, past SLA
    finding("critical", "2026-01-01T00:00", squad=w.payments, status="ignored")  # not open
    # Resolved in the period: 16, 2 and 10 days for the squad (16 also alice's), half a day
    # unowned; one resolved before the period.
    finding(
        "high",
        "2026-01-20T12:00",
        squad=w.payments,
        owner=w.alice,
        status="resolved",
        resolved="2026-02-05T12:00",
    )
    finding(
        "high",
        "2026-02-01T12:00",
        squad=w.payments,
        status="resolved",
        resolved="2026-02-03T12:00",
    )
    finding(
        "medium",
        "2026-02-10T00:00",
        squad=w.payments,
        status="resolved",
        resolved="2026-02-20T00:00",
    )
    finding("low", "2026-02-01T00:00", status="resolved", resolved="2026-02-01T12:00")
    finding(
        "high",
        "2026-01-01T00:00",
        squad=w.payments,
        status="resolved",
        resolved="2026-01-25T00:00",
    )
    for detected in (w.shared, w.squad_only, w.bobs, w.unowned):
        FindingEventFactory(at=T0, finding=detected, event_timestamp=detected.first_detected_at)
    FixFactory(
        at=T0,
        repository=w.repository,
        created_at=at("2026-02-10T00:00"),
        finding_ids=[w.shared.upstream_id],
    )
    FixFactory(
        at=T0,
        repository=w.repository,
        created_at=at("2026-02-11T00:00"),
        finding_ids=[w.unowned.upstream_id],
    )
    # Another team's squad owning another team's finding.
    w.their_squad = Squad.objects.create(team=other_team, name="their-secret-squad")
    theirs = RepositoryFactory(at=T0, team=other_team)
    FindingFactory(at=T0, repository=theirs, severity="critical", owner_squad=w.their_squad)
    return w


def scope_of(team, owner=None) -> ReportScope:
    return dataclasses.replace(scope_at(team, NOW), owner=owner)


def by_value(rows):
    return {row.owner.value: row for row in rows}


def test_breakdown_per_squad_member_and_unowned(team, world):
    policy = selectors.sla_policy_of(team)
    rows = selectors.owner_breakdown(scope=scope_of(team), policy=policy)
    assert [row.owner.label for row in rows] == [
        "@payments",
        "@platform",
        "@alice",
        "@bob",
        "Unowned",
    ]
    table = by_value(rows)
    payments = table[f"squad:{world.payments.pk}"]
    assert payments.open_by_severity == {"critical": 1, "high": 1, "medium": 0, "low": 0}
    assert payments.past_sla == 1
    assert payments.resolved == 3
    assert payments.median_days == pytest.approx(10.0)  # of 2, 10 and 16 days
    assert payments.p90_days == pytest.approx(14.8)  # 10 + 0.8 * (16 - 10)
    platform = table[f"squad:{world.platform.pk}"]
    assert (platform.open_total, platform.past_sla, platform.resolved) == (0, 0, 0)
    assert platform.median_days is None
    # The finding owned by the squad and by alice counts under both.
    alice = table[f"member:{world.alice.pk}"]
    assert alice.open_by_severity["critical"] == 1 and alice.open_total == 1
    assert (alice.past_sla, alice.resolved, alice.median_days) == (1, 1, pytest.approx(16.0))
    bob = table[f"member:{world.bob.pk}"]
    assert (bob.open_total, bob.past_sla, bob.resolved, bob.p90_days) == (1, 1, 0, None)
    unowned = table["none"]
    assert unowned.open_by_severity == {"critical": 0, "high": 0, "medium": 1, "low": 1}
    assert unowned.past_sla == 1
    assert (unowned.resolved, unowned.median_days) == (1, pytest.approx(0.5))
    assert selectors.unowned_open(rows) == 2


def test_the_page_shows_the_owner_table_and_says_how_it_counts(team, member, client_as, world):
    response = client_as(member(Role.VIEWER)).get(url("reports", team, PERIOD))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="h-owners"' in body
    assert "counts under both" in body
    assert "2 open findings without an owner" in body
    assert f'data-owner-row="squad:{world.payments.pk}"' in body
    assert "their-secret-squad" not in body
    assert response.context["owner_rows"][0].owner.label == "@payments"


def test_the_csv_has_one_row_per_owner_as_the_page_shows_them(team, member, client_as, world):
    client = client_as(member(Role.VIEWER))
    page = client.get(url("reports", team, PERIOD))
    exported = client.get(url("reports-export-owners", team, PERIOD))
    assert exported.status_code == 200
    assert exported["Content-Type"] == "text/csv"
    lines = list(csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert list(lines[0]) == [
        "owner_type",
        "owner",
        "owner_id",
        "open_critical",
        "open_high",
        "open_medium",
        "open_low",
        "open_total",
        "past_sla",
        "resolved_in_period",
        "remediation_median_days",
        "remediation_p90_days",
    ]
    rows = page.context["owner_rows"]
    assert len(lines) == len(rows) == 5
    body = page.content.decode()
    for line, row in zip(lines, rows, strict=True):
        assert line["owner"] == row.owner.label.removeprefix("@")
        assert line["owner_type"] == row.owner.kind
        assert line["owner_id"] == ("" if row.owner.pk is None else str(row.owner.pk))
        assert [int(line[f"open_{s}"]) for s in ("critical", "high", "medium", "low")] == (
            row.open_counts
        )
        assert int(line["open_total"]) == row.open_total
        assert int(line["past_sla"]) == row.past_sla
        assert int(line["resolved_in_period"]) == row.resolved
        for column in ("remediation_median_days", "remediation_p90_days"):
            if line[column]:
                assert f"{line[column]} d" in body
    payments = lines[0]
    assert (payments["owner"], payments["remediation_median_days"]) == ("payments", "10.0")
    assert payments["remediation_p90_days"] == "14.8"
    assert lines[-1]["owner"] == "Unowned" and lines[-1]["open_total"] == "2"


def test_the_owner_filter_narrows_every_section(team, member, client_as, world):
    client = client_as(member(Role.VIEWER))
    everyone = client.get(url("reports", team, PERIOD)).context
    squad = client.get(url("reports", team, f"{PERIOD}&owner=squad:{world.payments.pk}"))
    assert squad.status_code == 200
    narrowed = squad.context
    assert narrowed["scope"].owner == ReportOwner("squad", world.payments.pk, "@payments")
    # Open now, SLA, time to remediate, trends, repositories, forecasts and the fix funnel.
    assert everyone["open_total"] == 5
    assert narrowed["open_total"] == 2
    assert {row.severity: row.breached for row in narrowed["sla"]}["critical"] == 1
    assert sum(row.breached for row in narrowed["sla"]) == 1
    remediation = {row.severity: row.resolved for row in narrowed["remediation"]}
    assert remediation == {"critical": 0, "high": 2, "medium": 1, "low": 0}
    assert everyone["trend"].new == 3
    assert narrowed["trend"].new == 2
    assert narrowed["repository_rows"][0].open_total == 2
    assert everyone["funnel"].started == 2
    assert narrowed["funnel"].started == 1
    assert {f.remaining for f in narrowed["forecasts"]} <= {0, 1, 2}
    # The owner table keeps the squad and the members of its findings.
    labels = [row.owner.label for row in narrowed["owner_rows"]]
    assert labels == ["@payments", "@alice"]
    assert "Owned by @payments" in squad.content.decode()
    # The SLA list and the CSV exports of the same URL narrow too.
    breached = f"kind=breached&owner=squad:{world.payments.pk}"
    sla_list = client.get(url("reports-sla", team, breached))
    assert [finding for finding, _ in sla_list.context["rows"]] == [world.shared]
    assert "Owned by @payments · 1 open finding" in sla_list.content.decode()
    exported = client.get(url("reports-export-sla", team, f"owner=member:{world.bob.pk}"))
    (line,) = csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode()))
    assert line["finding_id"] == world.bobs.upstream_id

    unowned = client.get(url("reports", team, f"{PERIOD}&owner=none")).context
    assert unowned["open_total"] == 2
    assert unowned["trend"].new == 1
    assert unowned["funnel"].started == 1
    assert [row.owner.label for row in unowned["owner_rows"]] == ["Unowned"]
    alice = client.get(url("reports", team, f"{PERIOD}&owner=member:{world.alice.pk}")).context
    assert alice["open_total"] == 1
    assert {row.severity: row.resolved for row in alice["remediation"]}["high"] == 1


def test_the_owner_filter_offers_the_teams_squads_and_members_only(team, member, client_as, world):
    body = client_as(member(Role.VIEWER)).get(url("reports", team)).content.decode()
    assert f'<option value="squad:{world.payments.pk}">@payments</option>' in body
    assert f'<option value="member:{world.alice.pk}">@alice</option>' in body
    assert '<option value="none">' in body
    assert f"squad:{world.their_squad.pk}" not in body


@pytest.mark.parametrize(
    "value",
    ["squad:{their_squad}", "member:{their_member}", "squad:999999", "squad:abc", "everyone"],
)
def test_another_teams_or_a_forged_owner_is_refused_with_a_message(
    team, other_team, member, client_as, world, value
):
    outsider = member(Role.ADMIN, of=other_team)
    owner = value.format(their_squad=world.their_squad.pk, their_member=outsider.pk)
    response = client_as(member(Role.VIEWER)).get(url("reports", team, f"owner={owner}"))
    assert response.status_code == 400
    body = response.content.decode()
    assert OWNER_INVALID.replace("'", "&#x27;") in body
    assert "all repositories and owners" in body
    assert "their-secret-squad" not in body
    assert response.context["scope"].owner is None
    assert response.context["open_total"] == 5
    for export in ("reports-export-owners", "reports-export-sla", "reports-export-repositories"):
        refused = client_as(member(Role.VIEWER)).get(url(export, team, f"owner={owner}"))
        assert refused.status_code == 400
        assert b"Nothing was exported" in refused.content
        assert OWNER_INVALID.replace("'", "&#x27;").encode() in refused.content


def test_viewers_read_the_owner_report_and_outsiders_get_404(
    team, other_team, member, client_as, world
):
    viewer = client_as(member(Role.VIEWER))
    assert viewer.get(url("reports-export-owners", team)).status_code == 200
    outsider = client_as(member(Role.ADMIN, of=other_team))
    assert outsider.get(url("reports-export-owners", team)).status_code == 404
    assert outsider.get(url("reports", team, "owner=none")).status_code == 404


def _queries(client, path) -> int:
    from django.core.cache import cache

    cache.clear()
    with CaptureQueriesContext(db_connection) as queries:
        response = client.get(path)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
    assert response.status_code == 200
    return len(queries)


def test_queries_do_not_grow_with_squads_and_members(team, member, client_as, world):
    client = client_as(member(Role.VIEWER))
    client.get(url("reports", team))  # the first visit builds the snapshots
    page, export = url("reports", team, PERIOD), url("reports-export-owners", team, PERIOD)
    before = _queries(client, page), _queries(client, export)
    for index in range(12):
        squad = Squad.objects.create(team=team, name=f"squad-{index}")
        owner = member(Role.TRIAGER, username=f"owner-{index}")
        FindingFactory(at=T0, repository=world.repository, owner_squad=squad, owner_member=owner)
        FindingFactory(
            at=T0,
            repository=world.repository,
            owner_member=owner,
            status="resolved",
            first_detected_at=at("2026-02-02T00:00"),
            resolved_at=at("2026-02-12T00:00"),
        )
    after = _queries(client, page), _queries(client, export)
    assert after == before
    assert before[0] <= 32 and before[1] <= 12
    assert len(client.get(page).context["owner_rows"]) == 5 + 24


@pytest.mark.parametrize(
    ("owner", "expected"),
    [("squad", {"shared", "squad_only"}), ("member", {"bobs"}), ("none", {"unowned"})],
)
def test_the_all_findings_export_of_an_owners_report_has_that_owners_findings(
    team, member, client_as, world, owner, expected
):
    """The report's "All findings" link carries its owner as the findings filter spells it,
    and the export it leads to has that owner's findings only."""
    value = {"squad": f"squad:{world.payments.pk}", "member": f"member:{world.bob.pk}"}
    client = client_as(member(Role.VIEWER))
    page = client.get(url("reports", team, f"{PERIOD}&owner={value.get(owner, 'none')}"))
    link = page.context["findings_export_query"]
    assert f"{url('reports-export-findings', team)}?{link}".replace("&", "&amp;") in (
        page.content.decode()
    )
    exported = client.get(url("reports-export-findings", team, link))
    assert exported.status_code == 200
    rows = csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode()))
    ids = {row["finding_id"] for row in rows if row["status"] == "open"}
    assert ids == {getattr(world, name).upstream_id for name in expected}


def test_the_findings_export_knows_who_assigned_to_me_is(team, member, client_as, world):
    exported = client_as(world.bob).get(url("reports-export-findings", team, "assigned=me"))
    rows = list(csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert [row["finding_id"] for row in rows] == [world.bobs.upstream_id]
