"""Walking list endpoints. The guards against a misbehaving server are exercised with list
methods that misbehave on purpose (the sandbox paginates correctly); the normal walk runs
against the sandbox in test_operations.py."""

import logging

from triage.kolega import Page, QuotaCounter, iter_all, iter_pages


def counter(n: int) -> QuotaCounter:
    return QuotaCounter(plan=n, topup=0, used=0, remaining=n)


class ListMethod:
    """A list method over `items` whose paging can be made to misbehave."""

    def __init__(self, items, *, ignore_skip=False, always_has_next=False, total=None):
        self.items = items
        self.ignore_skip = ignore_skip
        self.always_has_next = always_has_next
        self.total = len(items) if total is None else total
        self.calls: list[dict] = []

    def __call__(self, *, limit: int, skip: int, **filters) -> Page[QuotaCounter]:
        self.calls.append({"limit": limit, "skip": skip, **filters})
        start = 0 if self.ignore_skip else skip
        chunk = self.items[start : start + limit]
        has_next = self.always_has_next or start + limit < len(self.items)
        return Page[QuotaCounter](
            items=chunk, total=self.total, limit=limit, skip=skip, has_next=has_next
        )


def test_walks_every_page_with_the_largest_page_size_and_passes_filters():
    items = [counter(n) for n in range(450)]
    list_method = ListMethod(items)

    pages = list(iter_pages(list_method, status="open"))

    assert [len(page.items) for page in pages] == [200, 200, 50]
    assert [call["skip"] for call in list_method.calls] == [0, 200, 400]
    assert {call["limit"] for call in list_method.calls} == {200}
    assert {call["status"] for call in list_method.calls} == {"open"}
    assert list(iter_all(ListMethod(items))) == items


def test_an_empty_first_page_is_yielded_once():
    list_method = ListMethod([])
    pages = list(iter_pages(list_method))
    assert len(pages) == 1
    assert pages[0].total == 0
    assert len(list_method.calls) == 1


def test_stops_when_a_page_repeats(caplog):
    items = [counter(n) for n in range(450)]
    list_method = ListMethod(items, ignore_skip=True)

    walked = list(iter_all(list_method))

    assert walked == items[:200]
    assert len(list_method.calls) == 2
    assert "repeats the previous one" in caplog.text


def test_stops_on_an_empty_page_that_claims_more(caplog):
    caplog.set_level(logging.WARNING, logger="triage.kolega")
    list_method = ListMethod([counter(n) for n in range(250)], always_has_next=True)

    walked = list(iter_all(list_method))

    assert len(walked) == 250
    assert len(list_method.calls) == 3
    assert "empty page" in caplog.text


def test_stops_after_the_pages_the_total_allows(caplog):
    # The server says 300 items but keeps producing new ones forever.
    endless = [counter(n) for n in range(200 * 50)]
    list_method = ListMethod(endless, always_has_next=True, total=300)

    walked = list(iter_all(list_method))

    # ceil(300 / 200) = 2 pages, plus 3 pages of tolerance for rows added meanwhile.
    assert len(list_method.calls) == 5
    assert len(walked) == 1000
    assert "more than 5 pages" in caplog.text
