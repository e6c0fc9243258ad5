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


def _most_rows_of_one_step(plan: dict) -> int:
    """The most rows any step of a PostgreSQL plan (EXPLAIN ANALYZE, JSON) produced, but for
    the steps of the page's count (a subquery counting the matching rows up to a limit)."""
    if plan.get("Parent Relationship") in ("InitPlan", "SubPlan") and plan["Node Type"] == (
        "Aggregate"
    ):
        return 0
    own = plan.get("Actual Rows", 0) * plan.get("Actual Loops", 1)
    return max([own, *(_most_rows_of_one_step(step) for step in plan.get("Plans", []))])


@pytest.mark.parametrize("sort", ["last_detected", "-last_detected"])
def test_a_later_page_past_a_time_many_findings_share_reads_only_its_rows(team, sort):
    """Every finding a scan saw again has the same "last seen": a page that continues from
    one of them is still a walk of the index that stops after the page, not a join and sort
    of every finding after the cursor (which is what PostgreSQL chose when it read the page
    in one query with its joins, estimating that almost nothing follows a shared value)."""
    if db_connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL plan")
    repository = RepositoryFactory(team=team)
    seen = FindingFactory.build(repository=repository).last_detected_at
    Finding.objects.bulk_create(
        FindingFactory.build_batch(3000, repository=repository, last_detected_at=seen)
    )
    with db_connection.cursor() as cursor:
        cursor.execute("ANALYZE triage_finding")
    queryset = selectors.findings_for_team(team=team).filter(status="open")
    first = selectors.findings_page(queryset=queryset, sort_key=sort, cursor=None, page_size=50)

    with CaptureQueriesContext(db_connection) as queries:
        later = selectors.findings_page(
            queryset=queryset, sort_key=sort, cursor=first.next_cursor, page_size=50
        )

    in_order = sorted(Finding.objects.values_list("pk", flat=True), reverse=sort[0] != "-")
    assert [row.pk for row in first.rows + later.rows] == in_order[:100]
    (page_query,) = queries.captured_queries
    with db_connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {page_query['sql']}")
        (plan,) = cursor.fetchone()[0]
    # The page's 51 rows (one more than it shows, to know there is a next) are all it reads
    # besides its count; read in one query with the joins, a step joined all 2,950.
    assert _most_rows_of_one_step(plan["Plan"]) <= 51
