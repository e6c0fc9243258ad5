"""The sandbox's notion of "now".

Every life cycle in the sandbox is derived from timestamps, so moving this clock is how
tests (and the control endpoint) make a scan or a fix advance without waiting. The offset
is process-wide on purpose: a live server thread and the test that drives it share it.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.utils import timezone

_offset = timedelta(0)
_frozen_at: datetime | None = None


def now() -> datetime:
    if _frozen_at is not None:
        return _frozen_at + _offset
    return timezone.now() + _offset


def advance(seconds: float) -> None:
    """Move the clock forward (or back, with a negative value) by ``seconds``."""
    global _offset
    _offset += timedelta(seconds=seconds)


def freeze(at: datetime | None = None) -> None:
    """Stop the clock at ``at`` (default: the current sandbox time)."""
    global _frozen_at, _offset
    _frozen_at = at if at is not None else now()
    _offset = timedelta(0)


def reset() -> None:
    global _frozen_at, _offset
    _frozen_at = None
    _offset = timedelta(0)


def offset_seconds() -> float:
    return _offset.total_seconds()


@contextmanager
def travel(seconds: float) -> Iterator[None]:
    """Run a block ``seconds`` later than now, then come back."""
    advance(seconds)
    try:
        yield
    finally:
        advance(-seconds)
