"""Walking Kolega's `limit`/`skip` list endpoints page by page."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from triage.kolega.errors import KolegaTooLarge
from triage.kolega.models import KolegaModel, Page

logger = logging.getLogger("triage.kolega")

PAGE_SIZE = 200  # the contract's maximum `limit`: fewest requests for a full walk

# Pages allowed beyond what the first page's `total` announces: rows added while we walk
# push a few items onto later pages, but a server that keeps saying `has_next` forever must
# not keep a sync running forever.
EXTRA_PAGES_ALLOWED = 3

# The most pages one walk reads, whatever `total` the server announces: a server claiming a
# billion items must not keep a sync walking (and writing) for days. 50,000 pages of 200 is
# ten million items: the five million finding events of a million-finding organization, twice.
MAX_PAGES = 50_000

M = TypeVar("M", bound=KolegaModel)


def iter_pages(
    list_method: Callable[..., Page[M]],
    *,
    page_size: int = PAGE_SIZE,
    max_pages: int = MAX_PAGES,
    **filters: Any,
) -> Iterator[Page[M]]:
    """Yield every page of `list_method(**filters)`.

    Stops when the server says `has_next` is false, and also, with a warning, when a page
    comes back empty, when a page repeats the previous one (a server ignoring `skip`), or
    after ceil(total / limit) + EXTRA_PAGES_ALLOWED pages. The server's `total` is not
    trusted beyond `max_pages`: a walk that would read more raises `KolegaTooLarge`.
    """

    def after(page: Page[M], params: dict[str, Any]) -> dict[str, Any]:
        return {"skip": params["skip"] + len(page.items)}

    return _walk(
        list_method,
        page_size=page_size,
        max_pages=max_pages,
        first={"skip": 0},
        after=after,
        **filters,
    )


def _walk(
    list_method: Callable[..., Page[M]],
    *,
    page_size: int,
    max_pages: int,
    first: dict[str, Any],
    after: Callable[[Page[M], dict[str, Any]], dict[str, Any]],
    **filters: Any,
) -> Iterator[Page[M]]:
    """The guarded walk: `first` holds the paging parameters of the first request, and
    `after(page, params)` those of the request that follows `page`."""
    params = first
    previous_items: list[M] | None = None
    expected_pages: int | None = None
    pages_read = 0
    while True:
        if pages_read >= max_pages:
            raise KolegaTooLarge(
                f"the listing {_name_of(list_method)} has more than {max_pages} pages,"
                " the most the portal reads in one walk"
            )
        page = list_method(limit=page_size, **params, **filters)
        pages_read += 1
        skip = params["skip"]
        if expected_pages is None:
            effective_limit = max(min(page.limit, page_size), 1)
            expected_pages = math.ceil(max(page.total, 0) / effective_limit) + EXTRA_PAGES_ALLOWED
        if not page.items:
            if page.has_next:
                _warn(list_method, "an empty page claims more pages follow", skip)
            if pages_read == 1:
                yield page
            return
        if previous_items is not None and page.items == previous_items:
            _warn(list_method, "a page repeats the previous one", skip)
            return
        yield page
        if not page.has_next:
            return
        if pages_read >= expected_pages:
            _warn(list_method, f"more than {expected_pages} pages for {page.total} items", skip)
            return
        previous_items = page.items
        params = after(page, params)


def iter_all(
    list_method: Callable[..., Page[M]], *, page_size: int = PAGE_SIZE, **filters: Any
) -> Iterator[M]:
    """Yield every item of `list_method(**filters)` across its pages."""
    for page in iter_pages(list_method, page_size=page_size, **filters):
        yield from page.items


def _name_of(list_method: Callable[..., Any]) -> str:
    return getattr(list_method, "__name__", repr(list_method))


def _warn(list_method: Callable[..., Any], problem: str, skip: int) -> None:
    logger.warning(
        "kolega pagination of %s stopped at skip=%d: %s", _name_of(list_method), skip, problem
    )


# A deep `skip` makes the server count past every row before it (Kolega pages by offset),
# so a long newest-first walk restarts every this many pages from the oldest time reached.
WINDOW_PAGES = 10


def iter_pages_by_time(
    list_method: Callable[..., Page[M]],
    *,
    time_of: Callable[[M], Any],
    page_size: int = PAGE_SIZE,
    window_pages: int = WINDOW_PAGES,
    max_pages: int = MAX_PAGES,
    **filters: Any,
) -> Iterator[Page[M]]:
    """Yield every page of a newest-first feed that takes an inclusive `end` time.

    Offset paging costs the server O(skip) per page, so walking 500,000 events one `skip`
    after another is quadratic. Every `window_pages` pages the walk starts again with
    `end` set to the oldest time reached and `skip` set to how many items at exactly that
    time were already yielded: the server's order within one time is stable, so nothing is
    missed or repeated, and each request skips at most `window_pages` pages. Items created
    during the walk are newer than `end` and stay out of later windows. The same guards as
    `iter_pages` stop a server that never ends.
    """
    tail = {"time": None, "count": 0, "window_read": 0}  # count: items yielded at `time`

    def after(page: Page[M], params: dict[str, Any]) -> dict[str, Any]:
        for item in page.items:
            moment = time_of(item)
            if moment == tail["time"]:
                tail["count"] += 1
            else:
                tail["time"], tail["count"] = moment, 1
        tail["window_read"] += 1
        if tail["window_read"] >= window_pages and tail["time"] != params["end"]:
            tail["window_read"] = 0
            return {"skip": tail["count"], "end": tail["time"]}
        return {"skip": params["skip"] + len(page.items), "end": params["end"]}

    first = {"skip": 0, "end": filters.pop("end", None)}
    return _walk(
        list_method, page_size=page_size, max_pages=max_pages, first=first, after=after, **filters
    )
