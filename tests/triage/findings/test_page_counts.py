"""A findings page reads its count with its rows: one query for both, in every order, and the
count still right when the page has no rows to carry it."""

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from tests.factories import FindingFactory, RepositoryFactory
from triage.models import Finding
from triage.selectors import findings as selectors

pytestmark = pytest.mark.django_db


@pytest.fixture
def five(team):
    repository = RepositoryFactory(team=team)
    return [FindingFactory(repository=repository) for _ in range(5)]


@pytest.mark.parametrize("sort", list(selectors.SORTS))
def test_the_rows_and_their_count_are_one_query_in_every_order(team, five, sort):
    queryset = selectors.findings_for_team(team=team)
    with CaptureQueriesContext(db_connection) as queries:
        page = selectors.findings_page(queryset=queryset, sort_key=sort, cursor=None, page_size=2)
    assert len(queries) == 1
    assert (page.count, page.count_is_lower_bound, len(page.rows)) == (5, False, 2)

    later = selectors.findings_page(
        queryset=queryset, sort_key=sort, cursor=page.next_cursor, page_size=2
    )
    assert later.count == 5 and len(later.rows) == 2
    assert not {row.pk for row in page.rows} & {row.pk for row in later.rows}


def test_a_page_past_the_last_row_still_counts_the_rest(team, five):
    queryset = selectors.findings_for_team(team=team)
    first = selectors.findings_page(
        queryset=queryset, sort_key="severity", cursor=None, page_size=2
    )
    # The findings after the first page are gone (deleted upstream) before "Next" is clicked.
    Finding.objects.exclude(pk__in=[row.pk for row in first.rows]).delete()

    after = selectors.findings_page(
        queryset=queryset, sort_key="severity", cursor=first.next_cursor, page_size=2
    )
    assert after.rows == [] and after.count == 2


def test_an_empty_first_page_counts_nothing_without_a_second_query(team):
    queryset = selectors.findings_for_team(team=team)
    with CaptureQueriesContext(db_connection) as queries:
        page = selectors.findings_page(queryset=queryset, sort_key="sla", cursor=None)
    assert (page.rows, page.count, len(queries)) == ([], 0, 1)


def test_past_the_limit_the_count_is_a_lower_bound(team, five, monkeypatch):
    monkeypatch.setattr(selectors, "COUNT_LIMIT", 3)
    page = selectors.findings_page(
        queryset=selectors.findings_for_team(team=team), sort_key="sla", cursor=None
    )
    assert (page.count, page.count_is_lower_bound, len(page.rows)) == (3, True, 5)
