"""My queue: the findings page over the open findings assigned to me or to my squads, soonest
SLA due first, with its filters and bulk actions; its count in the navigation and its card on
the dashboard."""

import re
from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import FindingFactory, RepositoryFactory
from tests.triage.dashboard.test_views import synced_connection
from tests.triage.findings.test_views import _link, _row_ids
from triage.models import Membership, Role, Squad
from triage.selectors import findings as selectors

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _url(team, name="my-queue"):
    return reverse(name, kwargs={"team_slug": team.slug})


def _ago(days):
    return timezone.now() - timedelta(days=days)


@pytest.fixture
def queue(team, member):
    """tess (a triager in squad backend) and vic (a viewer in backend); default SLA days:
    critical 7, high 30, medium 90, low 180."""
    tess = member(Role.TRIAGER, username="tess")
    ole = member(Role.TRIAGER, username="ole")
    vic = member(Role.VIEWER, username="vic")
    backend = Squad.objects.create(team=team, name="backend")
    backend.members.add(
        Membership.objects.get(team=team, user=tess), Membership.objects.get(team=team, user=vic)
    )
    web = Squad.objects.create(team=team, name="web")
    web.members.add(Membership.objects.get(team=team, user=ole))
    repository = RepositoryFactory(team=team)

    def make(**kwargs):
        return FindingFactory(repository=repository, **kwargs)

    rows = {
        # In the queue, by SLA due: 10 days past, in 5 days, in 80 days, in 179 days.
        "backend_high": make(owner_squad=backend, severity="high", first_detected_at=_ago(40)),
        "tess_critical": make(owner_member=tess, severity="critical", first_detected_at=_ago(2)),
        "backend_medium": make(owner_squad=backend, severity="medium", first_detected_at=_ago(10)),
        "tess_review_low": make(
            owner_member=tess,
            severity="low",
            status="needs_manual_review",
            first_detected_at=_ago(1),
        ),
        # Not in the queue: resolved or dismissed, someone else's, nobody's.
        "tess_resolved": make(owner_member=tess, status="resolved", first_detected_at=_ago(90)),
        "backend_ignored": make(owner_squad=backend, status="ignored", first_detected_at=_ago(90)),
        "ole": make(owner_member=ole, first_detected_at=_ago(90)),
        "web": make(owner_squad=web, first_detected_at=_ago(90)),
        "nobody": make(first_detected_at=_ago(90)),
    }
    return {"tess": tess, "ole": ole, "vic": vic, "backend": backend, "rows": rows}


QUEUE_ORDER = ["backend_high", "tess_critical", "backend_medium", "tess_review_low"]
SQUAD_ONLY = ["backend_high", "backend_medium"]


def _names(queue, ids) -> list[str]:
    by_pk = {finding.pk: name for name, finding in queue["rows"].items()}
    return [by_pk.get(pk, f"other:{pk}") for pk in ids]


def test_queue_lists_my_and_my_squads_open_findings_soonest_sla_first(team, queue, client_as):
    response = client_as(queue["tess"]).get(_url(team))
    assert response.status_code == 200
    assert _names(queue, _row_ids(response)) == QUEUE_ORDER
    body = response.content.decode()
    assert "<h1>My queue</h1>" in body
    assert "SLA due, soonest first" in body
    # The filters and their URL state stay on the queue's URL.
    assert f'hx-get="{_url(team)}"' in body
    assert f'action="{_url(team)}"' in body
    # Bulk actions are there for a triager; "all matching" means all in the queue.
    assert 'id="findings-selection"' in body
    assert 'name="filter_query" value="scope=queue&amp;sort=sla"' in body
    # Any status may be set from the queue (resolving takes a finding out of it).
    assert re.search(r'id="bulk-status".*<option value="resolved">', body, re.S)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"severity": "critical"}, ["tess_critical"]),
        ({"assigned": "me"}, ["tess_critical", "tess_review_low"]),
        ({"squad": "backend"}, SQUAD_ONLY),
        ({"status": "needs_manual_review"}, ["tess_review_low"]),
        # A status outside the queue narrows it to nothing rather than widening it.
        ({"status": "resolved"}, []),
        ({"sort": "-sla"}, list(reversed(QUEUE_ORDER))),
        ({"assigned": "unowned"}, []),
    ],
)
def test_filters_narrow_the_queue(team, queue, client_as, params, expected):
    if params.get("squad") == "backend":
        params = {"squad": queue["backend"].pk}
    response = client_as(queue["tess"]).get(_url(team), params)
    assert _names(queue, _row_ids(response)) == expected


def test_htmx_filter_change_answers_the_table_fragment(team, queue, client_as):
    response = client_as(queue["tess"]).get(_url(team), {"severity": "high"}, **HTMX)
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="findings-page"')
    assert _names(queue, _row_ids(response)) == ["backend_high"]


def test_count_fragment_counts_the_queue(team, queue, client_as):
    client = client_as(queue["tess"])
    body = client.get(_url(team, "my-queue-count"), **HTMX).content.decode()
    assert "4 findings" in body
    assert _url(team, "my-queue-count") in body
    # Opened as a page, the fragment URL leads to the queue.
    response = client.get(_url(team, "my-queue-count"), {"severity": "high"})
    assert response.status_code == 302 and response["Location"].startswith(_url(team))


def test_viewer_sees_the_squads_queue_read_only(team, queue, client_as):
    response = client_as(queue["vic"]).get(_url(team))
    assert response.status_code == 200
    assert _names(queue, _row_ids(response)) == SQUAD_ONLY
    body = response.content.decode()
    assert 'id="findings-selection"' not in body
    assert 'name="finding"' not in body
    assert client_as(queue["vic"]).post(_url(team)).status_code == 403


def test_bulk_all_matching_from_the_queue_touches_only_the_queue(team, queue, client_as):
    response = client_as(queue["tess"]).post(
        _url(team, "findings-bulk"),
        {
            "action": "preview",
            "status": "resolved",
            "all_matching": "1",
            "filter_query": "scope=queue&sort=sla",
        },
        **HTMX,
    )
    assert re.search(r"<strong>4</strong> findings will change", response.content.decode())


def test_the_findings_page_ignores_a_queue_scope_in_its_url(team, queue, client_as):
    response = client_as(queue["tess"]).get(_url(team, "findings"), {"scope": "queue"})
    assert len(_row_ids(response)) == len(queue["rows"])


def test_another_teams_findings_never_appear(team, other_team, queue, client_as):
    tess = queue["tess"]
    Membership.objects.create(team=other_team, user=tess, role=Role.TRIAGER)
    theirs = Squad.objects.create(team=other_team, name="theirs")
    theirs.members.add(Membership.objects.get(team=other_team, user=tess))
    other_repository = RepositoryFactory(team=other_team)
    FindingFactory(repository=other_repository, owner_member=tess, title="Red mine")
    FindingFactory(repository=other_repository, owner_squad=theirs, title="Red squad")
    # A squad id of the other team forged into the URL is refused, not applied.
    response = client_as(tess).get(_url(team), {"squad": theirs.pk})
    assert _names(queue, _row_ids(response)) == QUEUE_ORDER
    assert "Red mine" not in response.content.decode()
    assert "Red squad" not in response.content.decode()
    # Each team's queue holds its own findings only.
    red = client_as(tess).get(reverse("my-queue", kwargs={"team_slug": other_team.slug}))
    assert len(_row_ids(red)) == 2
    assert client_as(queue["ole"]).get(_url(other_team)).status_code == 404


def _nav_count(body: str) -> str | None:
    match = re.search(r'<span class="badge" aria-label="([^"]+) in your queue"', body)
    return match.group(1) if match else None


def _badge(client, team) -> str:
    return client.get(_url(team, "my-queue-badge"), **HTMX).content.decode()


def test_navigation_loads_the_queue_count_after_the_page(team, queue, client_as, monkeypatch):
    client = client_as(queue["tess"])
    body = client.get(_url(team, "findings")).content.decode()
    assert ">My queue" in body
    # No query for it on every page: the badge is loaded after the page, and again when
    # findings change.
    assert f'hx-get="{_url(team, "my-queue-badge")}" hx-trigger="load, findingsChanged' in body
    assert _nav_count(_badge(client, team)) == "4"
    assert 'hx-trigger="findingsChanged from:body"' in _badge(client, team)
    assert _nav_count(_badge(client_as(queue["vic"]), team)) == "2"
    assert _nav_count(_badge(client_as(queue["ole"]), team)) == "2"
    monkeypatch.setattr(selectors, "QUEUE_COUNT_LIMIT", 3)
    assert _nav_count(_badge(client, team)) == "3+"
    with CaptureQueriesContext(db_connection) as queries:
        selectors.my_queue_count(team_id=team.pk, user=queue["tess"].pk)
    assert len(queries) == 1
    # Opened as a page, the badge's URL leads to the queue.
    assert client.get(_url(team, "my-queue-badge"))["Location"] == _url(team)


def test_navigation_shows_no_badge_for_an_empty_queue(team, member, client_as):
    client = client_as(member(Role.TRIAGER))
    assert ">My queue" in client.get(_url(team, "findings")).content.decode()
    assert _nav_count(_badge(client, team)) is None


def test_queue_queries_are_bounded_and_do_not_grow_with_rows(
    team, queue, client_as, monkeypatch, django_assert_max_num_queries
):
    repository = RepositoryFactory(team=team)
    for n in range(60):
        FindingFactory(repository=repository, owner_squad=queue["backend"] if n % 2 else None)
        FindingFactory(repository=repository, owner_member=queue["tess"] if n % 2 else None)
    client = client_as(queue["tess"])
    client.get(_url(team))  # the first view after sign-in slides the session's expiry
    counts = {}
    for size in (5, 50):
        monkeypatch.setattr(selectors, "PAGE_SIZE", size)
        with CaptureQueriesContext(db_connection) as queries:
            response = client.get(_url(team))
        assert len(_row_ids(response)) == size
        counts[size] = len(queries)
    assert counts[5] == counts[50]
    with django_assert_max_num_queries(8):
        client.get(_url(team))
    # On PostgreSQL the SLA order finds the page's ids and reads those rows in one query.
    with django_assert_max_num_queries(8):
        client.get(_url(team), {"severity": "high"}, **HTMX)


def test_dashboard_card_counts_and_lists_the_first_five(
    team, queue, client_as, django_assert_max_num_queries
):
    synced_connection(team, name="Acme")
    repository = RepositoryFactory(team=team)
    # Two more of tess's: one due in 3 days (this week), one past its SLA.
    for days, title in ((4, "Due this week"), (30, "Long overdue")):
        FindingFactory(
            repository=repository,
            owner_member=queue["tess"],
            severity="critical",
            first_detected_at=_ago(days),
            title=title,
        )
    client = client_as(queue["tess"])
    with django_assert_max_num_queries(25):
        body = client.get(_url(team, "dashboard")).content.decode()
    assert re.search(r"data-queue-total>6<", body)
    assert re.search(r"data-queue-past-sla>2<", body)
    # tess_critical (due in 5 days) and "Due this week" (in 3 days).
    assert re.search(r"data-queue-due-week>2<", body)
    links = re.findall(r'<a href="([^"]+)" data-queue-finding>([^<]+)</a>', body)
    assert [title for _, title in links] == [
        "Long overdue",
        "SQL injection",
        "Due this week",
        "SQL injection",
        "SQL injection",
    ]
    first = queue["rows"]["backend_high"]
    assert links[1][0] == reverse(
        "finding", kwargs={"team_slug": team.slug, "finding_id": first.pk}
    )
    assert _url(team) in body
    # The navigation's count is the card's: not loaded again after the page.
    assert _nav_count(body) == "6"
    assert 'hx-trigger="load, findingsChanged' not in body


def test_queue_pages_forward_and_back_in_sla_order(team, queue, client_as, monkeypatch):
    monkeypatch.setattr(selectors, "PAGE_SIZE", 3)
    client = client_as(queue["tess"])
    first = client.get(_url(team))
    assert _names(queue, _row_ids(first)) == QUEUE_ORDER[:3]
    second = client.get(_url(team) + "?" + _link(first, "next"))
    assert _names(queue, _row_ids(second)) == QUEUE_ORDER[3:]
    back = client.get(_url(team) + "?" + _link(second, "prev"))
    assert _names(queue, _row_ids(back)) == QUEUE_ORDER[:3]


def _both_tess_and_backend(queue):
    """A finding tess owns in person that is also her squad's: in her queue once."""
    return FindingFactory(
        repository=queue["rows"]["nobody"].repository,
        owner_member=queue["tess"],
        owner_squad=queue["backend"],
        severity="high",
        first_detected_at=_ago(3),
    )


@pytest.mark.parametrize("who", ["tess", "vic", "ole"])
@pytest.mark.parametrize(
    "params",
    [{}, {"severity": "high"}, {"assigned": "me"}, {"status": "resolved"}, {"squad": "backend"}],
)
def test_the_queue_count_is_the_number_of_its_findings(team, queue, client_as, who, params):
    _both_tess_and_backend(queue)
    if params.get("squad") == "backend":
        params = {"squad": queue["backend"].pk}
    client = client_as(queue[who])
    shown = len(_row_ids(client.get(_url(team), params)))
    body = client.get(_url(team, "my-queue-count"), params, **HTMX).content.decode()
    assert f'">{shown} finding' in body


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 5, 6, 50])
def test_the_queue_is_counted_once_per_finding_up_to_the_limit(team, queue, member, limit):
    _both_tess_and_backend(queue)
    open_findings = selectors.findings_for_team(team=team).unresolved()
    loner = member(Role.TRIAGER, username="loner")
    FindingFactory(repository=queue["rows"]["nobody"].repository, owner_member=loner)
    for user in (queue["tess"], queue["vic"], loner):
        squad_ids = selectors.squad_ids_of(team=team, user=user)
        in_queue = selectors.my_queue(team=team, user=user).count()
        count = selectors.mine_count(open_findings, user=user, squad_ids=squad_ids, limit=limit)
        counted = count.read(open_findings.db)
        # Below the limit, exact; from it on, at least the limit (the page says "N+").
        assert counted == in_queue if in_queue < limit else counted >= limit


def test_the_queue_count_stops_at_the_limit(team, queue, client_as, monkeypatch):
    _both_tess_and_backend(queue)
    client = client_as(queue["tess"])
    monkeypatch.setattr(selectors, "COUNT_LIMIT", 4)
    assert "4+ findings" in client.get(_url(team, "my-queue-count"), **HTMX).content.decode()
    monkeypatch.setattr(selectors, "COUNT_LIMIT", 5)
    assert '">5 findings' in client.get(_url(team, "my-queue-count"), **HTMX).content.decode()
