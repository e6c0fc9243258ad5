"""Findings grouped by rule (``?group=rule``): one row per check_id with counts per status and
repositories, under the page's own filters; the state in the URL; a group's findings inline;
a group's status change through the bulk endpoint; roles, team isolation and query counts."""

import html
import re
from urllib.parse import parse_qs

import pytest
from django.urls import reverse

from tests.factories import FindingFactory, RepositoryFactory
from triage.models import FindingStatusJob, Role, SavedView
from triage.selectors import finding_groups as group_selectors

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
SQLI = "python.lang.security.sql-injection"
XSS = "javascript.browser.security.xss"


def _url(team, name="findings", **kwargs):
    return reverse(name, kwargs={"team_slug": team.slug, **kwargs})


def _groups(response) -> dict[str, dict]:
    """The rows of the grouped table, by check_id: counts per status, repositories, total."""
    body = response.content.decode()
    groups = {}
    for check_id, row in re.findall(
        r'<tbody id="group-\d+" data-rule-group="([^"]*)">(.*?)</tbody>', body, re.S
    ):
        counts = dict(re.findall(r'data-status-count="(\w+)">(\d+)<', row))
        groups[html.unescape(check_id)] = {
            **{status: int(n) for status, n in counts.items()},
            "repositories": int(re.search(r"data-repository-count>(\d+)<", row).group(1)),
            "total": int(re.search(r"data-total>(\d+)<", row).group(1)),
        }
    return groups


def _order(response) -> list[str]:
    found = re.findall(r'data-rule-group="([^"]*)"', response.content.decode())
    return [html.unescape(check_id) for check_id in found]


def _group_form_query(response, check_id: str) -> str:
    """The selection a rule's Actions button gives the page's actions dialog."""
    body = response.content.decode()
    row = re.search(rf'data-rule-group="{re.escape(check_id)}">(.*?)</tbody>', body, re.S).group(1)
    return html.unescape(re.search(r'data-filter-query="([^"]*)"', row).group(1))


@pytest.fixture
def repositories(team):
    return RepositoryFactory(team=team, name="payments-api"), RepositoryFactory(
        team=team, name="web-shop"
    )


@pytest.fixture
def signed_in(member, client_as):
    """A client of a new member of the team with the role given."""
    return lambda role: client_as(member(role))


@pytest.fixture
def viewer_client(signed_in):
    return signed_in(Role.VIEWER)


@pytest.fixture
def triager_client(signed_in):
    return signed_in(Role.TRIAGER)


@pytest.fixture
def mixed(repositories):
    """SQL injection: 3 open, 1 resolved, 1 ignored over two repositories, highest high.
    XSS: 2 open and 1 false positive in one repository, one of them critical."""
    payments, shop = repositories
    FindingFactory.create_batch(2, repository=payments, check_id=SQLI, status="open")
    FindingFactory(repository=shop, check_id=SQLI, status="open", severity="medium")
    FindingFactory(repository=shop, check_id=SQLI, status="resolved")
    FindingFactory(repository=payments, check_id=SQLI, status="ignored")
    FindingFactory(repository=shop, check_id=XSS, status="open", severity="critical", title="XSS")
    FindingFactory(repository=shop, check_id=XSS, status="open", severity="low", title="XSS")
    FindingFactory(repository=shop, check_id=XSS, status="false_positive", title="XSS")
    return repositories


def test_one_row_per_rule_with_counts_per_status_and_repositories(team, mixed, viewer_client):
    response = viewer_client.get(_url(team), {"group": "rule"})

    assert response.status_code == 200
    groups = _groups(response)
    assert groups[SQLI] == {
        "open": 3,
        "needs_manual_review": 0,
        "resolved": 1,
        "ignored": 1,
        "false_positive": 0,
        "repositories": 2,
        "total": 5,
    }
    assert groups[XSS] == {
        "open": 2,
        "needs_manual_review": 0,
        "resolved": 0,
        "ignored": 0,
        "false_positive": 1,
        "repositories": 1,
        "total": 3,
    }
    # Most severe first (a critical XSS), though SQL injection has more findings.
    assert _order(response) == [XSS, SQLI]
    body = response.content.decode()
    assert '<span class="sev-critical">Critical</span>' in body
    assert "2 rules" in body


def test_equal_severity_orders_by_count(team, repositories, viewer_client):
    payments, _ = repositories
    FindingFactory(repository=payments, check_id="rule.few")
    FindingFactory.create_batch(3, repository=payments, check_id="rule.many")
    assert _order(viewer_client.get(_url(team), {"group": "rule"})) == ["rule.many", "rule.few"]


def test_the_pages_filters_narrow_the_groups(team, mixed, viewer_client):
    payments, _ = mixed
    by_status = _groups(viewer_client.get(_url(team), {"group": "rule", "status": "open"}))
    by_repository = _groups(
        viewer_client.get(_url(team), {"group": "rule", "repository": payments.pk})
    )

    assert {k: (g["open"], g["resolved"], g["total"]) for k, g in by_status.items()} == {
        SQLI: (3, 0, 3),
        XSS: (2, 0, 2),
    }
    assert list(by_repository) == [SQLI]
    assert (by_repository[SQLI]["repositories"], by_repository[SQLI]["total"]) == (1, 3)


def test_another_teams_findings_are_never_counted(team, other_team, mixed, viewer_client):
    foreign = RepositoryFactory(team=other_team)
    FindingFactory.create_batch(4, repository=foreign, check_id=SQLI)
    FindingFactory(repository=foreign, check_id="foreign.only-rule")

    groups = _groups(viewer_client.get(_url(team), {"group": "rule"}))

    assert set(groups) == {SQLI, XSS}
    assert (groups[SQLI]["total"], groups[SQLI]["repositories"]) == (5, 2)


def test_an_invalid_filter_is_named_and_the_groups_show_without_it(team, mixed, viewer_client):
    response = viewer_client.get(_url(team), {"group": "rule", "status": "nope"})

    assert response.status_code == 200
    assert "Ignored the filter Status: “nope” is not one of the choices." in (
        response.content.decode()
    )
    assert set(_groups(response)) == {SQLI, XSS}


def test_the_grouping_stays_in_the_url_of_filters_pager_toggle_and_saved_views(
    team, mixed, viewer_client
):
    response = viewer_client.get(_url(team), {"group": "rule", "severity": "high", "sort": "age"})
    body = response.content.decode()

    # The filter form carries the grouping, so a filter change keeps it.
    form = re.search(r'<form id="findings-filters".*?</form>', body, re.S).group(0)
    assert '<input type="hidden" name="group" value="rule">' in form
    assert '<input type="hidden" name="sort" value="age">' in form
    # A saved view saves the grouping with the filters.
    saved = re.search(r'name="query" value="([^"]*)"', body).group(1)
    assert parse_qs(html.unescape(saved)) == {
        "group": ["rule"],
        "severity": ["high"],
        "sort": ["age"],
    }
    # "List findings" leaves the grouping, keeping filters and sort.
    toggle = re.search(r'href="\?([^"]*)"[^>]*data-group-toggle', body).group(1)
    assert parse_qs(html.unescape(toggle)) == {"severity": ["high"], "sort": ["age"]}

    listed = viewer_client.get(_url(team), {"severity": "high"}).content.decode()
    to_groups = re.search(r'href="\?([^"]*)"[^>]*data-group-toggle', listed).group(1)
    assert parse_qs(html.unescape(to_groups)) == {"severity": ["high"], "group": ["rule"]}
    assert "Group by rule" in listed and "List findings" in body


def test_a_saved_grouped_view_opens_grouped(team, mixed, member, client_as):
    user = member(Role.VIEWER)
    client = client_as(user)
    query = "group=rule&status=open"
    client.post(_url(team, "findings-views"), {"name": "By rule", "query": query})
    view = SavedView.objects.get(user=user)

    opened = client.get(_url(team, "findings-view", view_id=view.pk), follow=True)

    assert set(_groups(opened)) == {SQLI, XSS}


def test_groups_are_paginated_and_the_pager_keeps_the_grouping(
    team, repositories, viewer_client, monkeypatch
):
    monkeypatch.setattr(group_selectors, "GROUPS_PAGE_SIZE", 2)
    payments, _ = repositories
    for n in range(5):
        FindingFactory.create_batch(n + 1, repository=payments, check_id=f"rule.{n}")

    first = viewer_client.get(_url(team), {"group": "rule", "status": "open"})
    third = viewer_client.get(_url(team), {"group": "rule", "status": "open", "page": "3"})
    fragment = viewer_client.get(_url(team), {"group": "rule", "page": "2"}, **HTMX)

    assert _order(first) == ["rule.4", "rule.3"]
    assert _order(third) == ["rule.0"]
    assert _order(fragment) == ["rule.2", "rule.1"]
    assert b"<html" not in fragment.content
    assert fragment.content.lstrip().startswith(b'<div id="findings-page"')
    body = first.content.decode()
    assert "Page 1 of 3" in body and "5 rules" in body
    following = html.unescape(re.search(r'href="\?([^"]*page=2)"', body).group(1))
    assert parse_qs(following) == {"group": ["rule"], "status": ["open"], "page": ["2"]}


def test_a_groups_findings_load_inline_with_the_pages_filters(team, mixed, viewer_client):
    response = viewer_client.get(_url(team), {"group": "rule", "status": "open"})
    rows_url = html.unescape(
        re.search(
            rf'data-rule-group="{re.escape(XSS)}">.*?hx-get="([^"]*)"',
            response.content.decode(),
            re.S,
        ).group(1)
    )

    fragment = viewer_client.get(rows_url, HTTP_HX_TARGET="group-1-findings", **HTMX)
    body = fragment.content.decode()

    assert fragment.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith('<tr id="group-1-findings"')
    # The open XSS findings only: the page's status filter and the rule's check_id.
    assert len(re.findall(r'<tr id="finding-row-\d+"', body)) == 2
    assert 'name="finding"' not in body  # no selection boxes in a group's rows
    link = html.unescape(re.search(r'<a href="([^"]*)">All 2 findings of this rule', body).group(1))
    assert link.startswith(_url(team) + "?")
    assert parse_qs(link.split("?", 1)[1]) == {"status": ["open"], "check_id": [XSS]}


def test_a_groups_findings_without_htmx_lead_to_the_list(team, mixed, viewer_client):
    response = viewer_client.get(_url(team, "findings-group-findings"), {"check_id": XSS})
    assert response.status_code == 302
    assert response["Location"] == f"{_url(team)}?check_id={XSS}"


def test_a_foreign_rule_shows_nothing_of_the_other_team(team, other_team, viewer_client):
    FindingFactory(repository=RepositoryFactory(team=other_team), check_id="foreign.rule")
    fragment = viewer_client.get(
        _url(team, "findings-group-findings"), {"check_id": "foreign.rule"}, **HTMX
    )
    assert fragment.status_code == 200
    assert "No findings of this rule match the filters." in fragment.content.decode()
    assert 'id="finding-row-' not in fragment.content.decode()


def test_a_groups_status_change_goes_through_the_bulk_endpoint_for_that_rule_only(
    team, mixed, triager_client, django_capture_on_commit_callbacks
):
    page = triager_client.get(_url(team), {"group": "rule", "status": "open"})
    filter_query = _group_form_query(page, SQLI)
    assert parse_qs(filter_query) == {"status": ["open"], "check_id": [SQLI]}

    preview = triager_client.post(
        _url(team, "findings-bulk"),
        {
            "all_matching": "1",
            "filter_query": filter_query,
            "status": "resolved",
            "action": "preview",
        },
        **HTMX,
    )
    assert "<strong>3</strong> findings will change to Resolved" in preview.content.decode()

    with django_capture_on_commit_callbacks(execute=False):
        response = triager_client.post(
            _url(team, "findings-bulk"),
            {
                "all_matching": "1",
                "filter_query": filter_query,
                "status": "resolved",
                "comment": "Fixed by the ORM upgrade",
            },
        )

    job = FindingStatusJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == _url(team, "findings-job", job_id=job.pk)
    changed = job.items.select_related("finding")
    assert job.total == 3 and {item.finding.check_id for item in changed} == {SQLI}
    assert {item.finding.status for item in changed} == {"open"}
    assert job.comment == "Fixed by the ORM upgrade"


def test_triagers_get_the_group_actions_and_viewers_do_not(
    team, mixed, viewer_client, triager_client
):
    triaging = triager_client.get(_url(team), {"group": "rule"}).content.decode()
    viewing = viewer_client.get(_url(team), {"group": "rule"}).content.decode()

    # One Actions button per rule, and one actions dialog for the page.
    assert triaging.count("data-group-action ") == 2
    assert triaging.count("data-group-actions") == 1
    assert f'formaction="{_url(team, "fixes-new")}"' in triaging
    assert "data-group-action" not in viewing
    assert _url(team, "findings-bulk") not in viewing
    assert "formaction" not in viewing


def test_a_viewers_group_post_is_refused(team, mixed, viewer_client):
    response = viewer_client.post(
        _url(team, "findings-bulk"),
        {"all_matching": "1", "filter_query": f"check_id={SQLI}", "status": "resolved"},
    )
    assert response.status_code == 403
    assert not FindingStatusJob.objects.exists()


@pytest.mark.parametrize("rules", [2, 30])
def test_queries_do_not_grow_with_the_number_of_groups(
    rules, team, repositories, triager_client, django_assert_max_num_queries
):
    payments, shop = repositories
    for n in range(rules):
        FindingFactory(repository=payments if n % 2 else shop, check_id=f"rule.{n}")
    with django_assert_max_num_queries(10):
        response = triager_client.get(_url(team), {"group": "rule", "status": "open"}, **HTMX)
    assert len(_order(response)) == rules


@pytest.mark.parametrize(
    "params",
    [
        {"check_id": "x" * 10_000},
        {"check_id": "a\x00b"},
        {"check_id": SQLI, "status": "nope", "age_min_days": "99999999999"},
        {"check_id": ""},
    ],
    ids=["long", "nul", "invalid-filters", "empty"],
)
def test_a_groups_findings_answer_any_input_without_a_server_error(
    params, team, mixed, viewer_client
):
    response = viewer_client.get(
        _url(team, "findings-group-findings"), params, HTTP_HX_TARGET="<script>", **HTMX
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<tr id="group-findings"')
    if params.get("status") == "nope":
        assert "Ignored the filter Status:" in body
        # The rule's findings still show, without the refused filters.
        assert len(re.findall(r'<tr id="finding-row-\d+"', body)) == 5


def test_grouped_page_survives_a_page_out_of_range_and_hostile_group_values(
    team, mixed, viewer_client
):
    beyond = viewer_client.get(_url(team), {"group": "rule", "page": "999"})
    garbage = viewer_client.get(_url(team), {"group": "rule", "page": "x\x00"})
    other = viewer_client.get(_url(team), {"group": "repository"})

    assert set(_groups(beyond)) == set(_groups(garbage)) == {SQLI, XSS}
    # Only the rule grouping exists: anything else lists the findings, and says so.
    assert other.status_code == 200 and "data-rule-group" not in other.content.decode()
    assert "Ignored the grouping “repository”: it can be “rule” only." in (other.content.decode())
    assert "Ignored the grouping" not in viewer_client.get(_url(team)).content.decode()


def test_a_whole_rule_is_assigned_from_its_group_and_the_owner_filters_are_offered(
    team, mixed, member, client_as
):
    from triage.models import AuditEvent, Finding, Squad

    Squad.objects.create(team=team, name="backend")
    triager = member(Role.TRIAGER, username="tess")
    client = client_as(triager)
    page = client.get(_url(team), {"group": "rule", "status": "open"})
    body = page.content.decode()
    # The grouped page offers the list's owner filters, filled in.
    assert ">backend</option>" in body and ">tess</option>" in body
    assert 'value="mine"' in body
    # The page's actions dialog carries an assign control joined to the chosen rule's selection.
    assert 'id="group-assign-assignee"' in body and 'form="group-actions"' in body

    response = client.post(
        _url(team, "findings-assign"),
        {"all_matching": "1", "filter_query": _group_form_query(page, SQLI), "action": "claim"},
    )

    assert response.status_code == 302
    mine = Finding.objects.filter(owner_member=triager)
    assert sorted(mine.values_list("check_id", "status")) == [(SQLI, "open")] * 3
    assert AuditEvent.objects.filter(action="finding.assign").count() == 3
