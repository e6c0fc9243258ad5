"""Primary keys read from requests.

Every key is a 64-bit integer. A larger number is no key at all, and must be refused before
it reaches a query: on SQLite the driver raises on it inside an `IN (...)` list instead of
matching nothing.
"""

import re
from collections.abc import Iterable

PK_RANGE = range(-(2**63), 2**63)
DIGITS = re.compile(r"-?[0-9]+")


def pk_of(value) -> int:
    """The key `value` names; ValueError (or TypeError) when it names none."""
    text = str(value)
    if not DIGITS.fullmatch(text):
        raise ValueError(f"{value!r} is not a number")
    pk = int(text)
    if pk not in PK_RANGE:
        raise ValueError(f"{value!r} is out of the range of keys")
    return pk


def pks_of(values: Iterable, *, limit: int | None = None) -> list[int]:
    """The keys among `values`, in order, values that name none left out."""
    pks = []
    for value in values:
        try:
            pks.append(pk_of(value))
        except (TypeError, ValueError):
            continue
    return pks if limit is None else pks[:limit]


def posted_pk_or_404(request, name: str) -> int:
    """The key a POST names in `name`; 404 when it names none (a tampered or stale form)."""
    from django.http import Http404

    try:
        return pk_of(request.POST.get(name, ""))
    except (TypeError, ValueError):
        raise Http404(f"No such {name}") from None
