"""A team connected to the sandbox's demo organization, its people, and a worker that runs the
portal's queued Celery tasks in this process.

The worker behaves like the real one where it matters here: a task that raises one of its
``autoretry_for`` errors is delivered again (up to its ``max_retries``), a countdown is waited
out on the sandbox clock (scans and fixes progress with it), and chosen tasks can be
delivered twice, as a broker does when an acknowledgement is lost.
"""

from __future__ import annotations

import functools
from collections import Counter, deque
from dataclasses import dataclass

import pytest
from celery.app.task import Task

from triage.kolega import KolegaClient
from triage.models import KolegaConnection, Role


@pytest.fixture
def no_client_sleep(monkeypatch) -> list[float]:
    """The portal's Kolega clients wait out backoffs and Retry-After without blocking the
    test (the waits are recorded); everything else about retrying is unchanged."""
    import triage.clients

    waits: list[float] = []
    monkeypatch.setattr(
        triage.clients, "KolegaClient", functools.partial(KolegaClient, sleep=waits.append)
    )
    return waits


@pytest.fixture
def connection(connection, no_client_sleep) -> KolegaConnection:
    """The team's connection to the demo organization; its clients' waits are not slept."""
    return connection


@dataclass(frozen=True)
class People:
    admin: object
    triager: object
    approver: object
    viewer: object


@pytest.fixture
def people(admin, triager, approver, member) -> People:
    return People(
        admin=admin, triager=triager, approver=approver, viewer=member(Role.VIEWER, username="vic")
    )


@dataclass
class Delivery:
    task: Task
    args: tuple
    kwargs: dict
    countdown: float

    @property
    def name(self) -> str:
        return self.task.name.rsplit(".", 1)[-1]


class InProcessWorker:
    def __init__(self, clock, capture) -> None:
        self.clock = clock
        self.capture = capture
        self.queue: deque[Delivery] = deque()
        self.retries: Counter[str] = Counter()
        self.ran: Counter[str] = Counter()
        self.outcomes: list[tuple[str, tuple, object]] = []
        self.deliver_twice: set[str] = set()

    def enqueue(self, task, args=None, kwargs=None, **options) -> None:
        delivery = Delivery(task, tuple(args or ()), dict(kwargs or {}), options.get("countdown"))
        self.queue.append(delivery)
        if delivery.name in self.deliver_twice:
            self.queue.append(delivery)

    def queued(self, name: str) -> list[Delivery]:
        return [d for d in self.queue if d.name == name]

    def drain(self, *, limit: int = 3000) -> None:
        """Run queued tasks, and those they queue, until none is left."""
        for _ in range(limit):
            if not self.queue:
                return
            self._run(self.queue.popleft())
        raise AssertionError(
            f"tasks still queued after {limit}: {Counter(d.name for d in self.queue)}"
        )

    def _run(self, delivery: Delivery) -> None:
        if delivery.countdown:
            self.clock.advance(delivery.countdown)
        retry_on = tuple(getattr(delivery.task, "autoretry_for", ()) or ())
        self.ran[delivery.name] += 1
        try:
            with self.capture(execute=True):
                outcome = delivery.task.run(*delivery.args, **delivery.kwargs)
        except Exception as exc:
            if not retry_on or not isinstance(exc, retry_on):
                raise
            key = f"{delivery.name}{delivery.args}"
            self.retries[key] += 1
            if self.retries[key] > delivery.task.max_retries:
                self.outcomes.append((delivery.name, delivery.args, exc))
                return
            # Redelivered after its backoff, which the sandbox clock waits out.
            self.queue.append(Delivery(delivery.task, delivery.args, delivery.kwargs, countdown=15))
            return
        self.outcomes.append((delivery.name, delivery.args, outcome))


@pytest.fixture
def worker(monkeypatch, settings, sandbox_clock, django_capture_on_commit_callbacks):
    """Every task the portal queues (``delay``/``apply_async``) lands here; ``drain()`` runs
    them. Bulk status jobs run one request at a time (the sandbox shares this thread's
    database transaction)."""
    settings.PORTAL_STATUS_JOB_CONCURRENCY = 1
    settings.PORTAL_TRACK_POLL_SECONDS = 30
    instance = InProcessWorker(sandbox_clock, django_capture_on_commit_callbacks)

    def apply_async(self, args=None, kwargs=None, **options):
        instance.enqueue(self, args, kwargs, **options)

    monkeypatch.setattr(Task, "apply_async", apply_async)
    return instance


@pytest.fixture
def act(client_as, django_capture_on_commit_callbacks):
    """``act(user).post(url, data)``: a person's request, with what it queues on commit
    handed to the worker as a real commit would."""

    class Acting:
        def __init__(self, user):
            self.client = client_as(user)

        def get(self, url, data=None, **extra):
            return self.client.get(url, data, **extra)

        def post(self, url, data=None, **extra):
            with django_capture_on_commit_callbacks(execute=True):
                return self.client.post(url, data or {}, **extra)

    return Acting
