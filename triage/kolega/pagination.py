"""Walking Kolega's `limit`/`skip` list endpoints page by page."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from triage.kolega.models import KolegaModel, Page

logger = logging.getLogger("triage.kolega")

PAGE_SIZE = 200  # the contract's maximum `limit`: fewest requests for a full walk

# Pages allowed beyond what the first page's `total` announces: rows added while we walk
# push a few items onto later pages, but a server that keeps saying `has_next` forever must
# not keep a sync running forever.
EXTRA_PAGES_ALLOWED = 3

M = TypeVar("M", bound=KolegaModel)


def iter_pages(
    list_method: Callable[..., Page[M]], *, page_size: int = PAGE_SIZE, **filters: Any
) -> Iterator[Page[M]]:
    """Yield every page of `list_method(**filters)`.

    Stops when the server says `has_next` is false, and also, with a warning, when a page
    comes back empty, when a page repeats the previous one (a server ignoring `skip`), or
    after ceil(total / limit) + EXTRA_PAGES_ALLOWED pages.
    """
    skip = 0
    previous_items: list[M] | None = None
    max_pages: int | None = None
    pages_read = 0
    while True:
        page = list_method(limit=page_size, skip=skip, **filters)
        pages_read += 1
        if max_pages is None:
            effective_limit = max(min(page.limit, page_size), 1)
            max_pages = math.ceil(max(page.total, 0) / effective_limit) + EXTRA_PAGES_ALLOWED
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
        if pages_read >= max_pages:
            _warn(list_method, f"more than {max_pages} pages for {page.total} items", skip)
            return
        previous_items = page.items
        skip += len(page.items)


def iter_all(
    list_method: Callable[..., Page[M]], *, page_size: int = PAGE_SIZE, **filters: Any
) -> Iterator[M]:
    """Yield every item of `list_method(**filters)` across its pages."""
    for page in iter_pages(list_method, page_size=page_size, **filters):
        yield from page.items


def _warn(list_method: Callable[..., Any], problem: str, skip: int) -> None:
    logger.warning(
        "kolega pagination of %s stopped at skip=%d: %s",
        getattr(list_method, "__name__", repr(list_method)),
        skip,
        problem,
    )
