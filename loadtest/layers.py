"""One request's time split by layer, for `make profile` (loadtest/profile.py).

The layers exclude one another: the time of a request is charged to the innermost layer
running, so they add up to the request's whole time in Django.

- middleware: from the first middleware in to the last one, and back out;
- view: the view's own Python (and whatever it waits for that is no query: cache, Kolega);
- templates: rendering a template, less the queries and ORM work it sets off;
- model building: the ORM's own work around a query: building the SQL and turning rows into
  objects (time in the ORM less the time in the database);
- queries: the time in the database driver's execute, counted per query.

`instrument()` patches the template backend and the ORM's entry points while it lasts; the
two middleware classes mark where the middleware ends and the view begins (the middleware's
process_view hooks, called just before the view, count as the view's). Nothing is charged
unless a request is being measured (`measuring`).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

MIDDLEWARE = "middleware"
VIEW = "view"
TEMPLATES = "templates"
ORM = "model building"
QUERIES = "queries"
ORDER = (MIDDLEWARE, QUERIES, ORM, TEMPLATES, VIEW)

OUTER_MIDDLEWARE = "loadtest.layers.OuterMiddleware"
INNER_MIDDLEWARE = "loadtest.layers.InnerMiddleware"


@dataclass
class Layers:
    """Milliseconds per layer of one request, and its queries as (sql, params, ms)."""

    ms: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    queries: list[tuple[str, object, float]] = field(default_factory=list)
    _stack: list[str] = field(default_factory=list)
    _since: float = 0.0

    def _charge(self, now: float) -> None:
        if self._stack:
            self.ms[self._stack[-1]] += (now - self._since) * 1000
        self._since = now

    @contextmanager
    def layer(self, name: str):
        self._charge(time.perf_counter())
        self._stack.append(name)
        try:
            yield
        finally:
            self._charge(time.perf_counter())
            self._stack.pop()

    @property
    def total_ms(self) -> float:
        return sum(self.ms.values())


# The Layers being measured, of this thread only: work of other threads is not charged.
_measured = threading.local()


def _current() -> Layers | None:
    return getattr(_measured, "layers", None)


@contextmanager
def measuring():
    """Measure the requests made inside: yields their Layers (one for all of them)."""
    _measured.layers = Layers()
    try:
        yield _measured.layers
    finally:
        _measured.layers = None


@contextmanager
def _in(name: str):
    current = _current()
    if current is None:
        yield
    else:
        with current.layer(name):
            yield


@contextmanager
def _wrapped(owner, attribute: str, name: str):
    """``owner.attribute`` charged to the layer ``name`` while inside."""
    original = owner.__dict__[attribute]

    def wrapped(*args, **kwargs):
        with _in(name):
            return original(*args, **kwargs)

    setattr(owner, attribute, wrapped)
    try:
        yield
    finally:
        setattr(owner, attribute, original)


def _query(execute, sql, params, many, context):
    current = _current()
    if current is None:
        return execute(sql, params, many, context)
    started = time.perf_counter()
    try:
        with current.layer(QUERIES):
            return execute(sql, params, many, context)
    finally:
        # Many rows of parameters (executemany) are kept as None: no plan is asked for them.
        kept = None if many else params
        current.queries.append((sql, kept, (time.perf_counter() - started) * 1000))


@contextmanager
def instrument():
    """Inside: the template backend and the ORM patched, the queries of this thread's
    database connection timed."""
    from django.db import connection
    from django.db.models.query import QuerySet
    from django.db.models.sql import compiler
    from django.template.backends.django import Template

    with ExitStack() as stack:
        stack.enter_context(_wrapped(Template, "render", TEMPLATES))
        stack.enter_context(_wrapped(QuerySet, "_fetch_all", ORM))
        for owner in (compiler.SQLCompiler, compiler.SQLInsertCompiler, compiler.SQLUpdateCompiler):
            stack.enter_context(_wrapped(owner, "execute_sql", ORM))
        stack.enter_context(connection.execute_wrapper(_query))
        yield


class _LayerMiddleware:
    layer = ""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with _in(self.layer):
            return self.get_response(request)


class OuterMiddleware(_LayerMiddleware):
    """The first middleware: all that follows until InnerMiddleware is middleware."""

    layer = MIDDLEWARE


class InnerMiddleware(_LayerMiddleware):
    """The last middleware: what it calls is the view (and its template response)."""

    layer = VIEW
