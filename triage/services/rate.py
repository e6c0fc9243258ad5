"""Counting things per minute in the cache (Redis in production): the one fixed-window
counter behind the portal's rate limits."""

from django.core.cache import cache
from django.utils import timezone


def minute_count(name: str) -> int:
    """Count one more `name` in the current minute; answer how many this minute has seen.

    Exact across processes with Redis as the cache; with the in-memory cache of a Redis-less
    `make run`, each process counts its own."""
    key = f"triage:rate:{name}:{int(timezone.now().timestamp() // 60)}"
    cache.add(key, 0, timeout=120)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=120)
        return 1


def seconds_to_next_minute() -> float:
    now = timezone.now().timestamp()
    return 60 - now % 60
