"""Fetching the next page while the current one is written.

A full sync spends its time in two places, waiting for Kolega and writing the database.
Reading ahead in a second thread overlaps the two, so a walk takes about as long as the
slower of them instead of their sum. The reader thread only speaks HTTP; every database
write stays on the caller's thread and its connection.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from django.conf import settings

from triage import clients, kolega

T = TypeVar("T")

READ_AHEAD_PAGES = 2
_END = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def read_ahead(pages: Iterator[T], *, depth: int = READ_AHEAD_PAGES) -> Iterator[T]:
    """Yield `pages` in order while a thread fetches up to `depth` pages ahead."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for page in pages:
                if not put(page):
                    return
            put(_END)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(_Failure(exc))

    reader = threading.Thread(target=produce, name="kolega-read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            item = buffer.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()
        reader.join(timeout=30)


def read_ahead_enabled() -> bool:
    # An injected transport (tests, the in-process sandbox) runs the server inside this
    # process, on the calling thread's database connection and transaction: it must be
    # called from that thread.
    return bool(getattr(settings, "PORTAL_SYNC_READ_AHEAD", True)) and (
        not clients.transport_is_overridden()
    )


def pages_of(
    list_method: Callable[..., kolega.Page], *, depth: int = READ_AHEAD_PAGES, **filters: Any
) -> Iterator[kolega.Page]:
    """Every page of a Kolega list endpoint, 200 items each, read ahead up to `depth` pages
    when possible."""
    return read_ahead_when_enabled(kolega.iter_pages(list_method, **filters), depth=depth)


def read_ahead_when_enabled(items: Iterator[T], *, depth: int = READ_AHEAD_PAGES) -> Iterator[T]:
    """`items` read ahead in a second thread when the transport allows it (`read_ahead`)."""
    return read_ahead(items, depth=depth) if read_ahead_enabled() else items


def chunks_of(pages: Iterable[kolega.Page], size: int) -> Iterator[list]:
    """The pages' items in lists of at least `size` (the last one shorter): a full sync,
    whose cursor is saved once at its end, writes several pages in one transaction."""
    pending: list = []
    for page in pages:
        pending.extend(page.items)
        if len(pending) >= size:
            yield pending
            pending = []
    if pending:
        yield pending


def chunk_depth(size: int) -> int:
    """How far to read ahead so the next chunk's pages are fetched while one is written."""
    return READ_AHEAD_PAGES + size // kolega.pagination.PAGE_SIZE


def event_pages_of(
    list_method: Callable[..., kolega.Page], *, depth: int = READ_AHEAD_PAGES, **filters: Any
) -> Iterator[kolega.Page]:
    """Every page of the newest-first finding-event feed, walked in time windows (read
    ahead up to `depth` pages: a caller writing several pages at once reads further)."""
    pages = kolega.iter_pages_by_time(
        list_method, time_of=lambda event: event.event_timestamp, **filters
    )
    return read_ahead_when_enabled(pages, depth=depth)
