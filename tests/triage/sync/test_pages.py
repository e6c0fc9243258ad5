import threading

import pytest

from triage.sync.pages import read_ahead


def test_read_ahead_yields_every_page_in_order_from_another_thread():
    threads = []

    def pages():
        for n in range(10):
            threads.append(threading.current_thread().name)
            yield n

    assert list(read_ahead(pages(), depth=2)) == list(range(10))
    assert set(threads) == {"kolega-read-ahead"}


def test_read_ahead_hands_a_fetch_failure_to_the_consumer_after_the_pages_before_it():
    def pages():
        yield 1
        yield 2
        raise ConnectionError("Kolega went away")

    seen = []
    with pytest.raises(ConnectionError, match="went away"):
        for page in read_ahead(pages()):
            seen.append(page)
    assert seen == [1, 2]


def test_a_consumer_stopping_early_stops_the_reader():
    fetched = []

    def pages():
        for n in range(1000):
            fetched.append(n)
            yield n

    for page in read_ahead(pages(), depth=2):
        if page == 3:
            break
    assert len(fetched) < 10
