"""Many callers doing the same thing at the same moment, for tests of row locks."""

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connection as db_connection

T = TypeVar("T")


def at_once(action: Callable[[], T], *, callers: int, timeout: float = 60) -> list[T]:
    """Run ``action`` in ``callers`` threads released together by a barrier, each on its own
    database connection (closed after); what each returned. Any exception fails the test."""
    barrier = threading.Barrier(callers)
    results: list[T] = []
    errors: list[BaseException] = []

    def call():
        try:
            barrier.wait()
            results.append(action())
        except BaseException as exc:
            errors.append(exc)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert errors == []
    assert len(results) == callers
    return results
