"""A team connected to the sandbox's demo organization, synced, with fixes started through
the portal's own service and run to completion on the sandbox clock."""

import httpx
import pytest

from tests.fixes_started import fix_started
from tests.mirror_rows import two_open_findings_of_one_file
from triage.clients import override_transport
from triage.models import Fix, KolegaConnection
from triage.sync import fix_track_step, sync_connection_full


@pytest.fixture
def connection(connection) -> KolegaConnection:
    """The team's connection to the demo organization, synced."""
    sync_connection_full(connection=connection)
    return connection


@pytest.fixture
def open_findings(connection):
    """Two open code findings of one file of one repository."""
    return two_open_findings_of_one_file(connection.team)


def run_to_completion(fix: Fix, clock) -> Fix:
    clock.advance(600)
    for _ in range(5):
        if fix_track_step(fix=fix):
            break
    fix.refresh_from_db()
    return fix


@pytest.fixture
def start_fix(
    connection, triager, open_findings, sandbox_clock, django_capture_on_commit_callbacks
):
    def start(*, complete: bool = True) -> Fix:
        fix = fix_started(triager, open_findings)
        return run_to_completion(fix, sandbox_clock) if complete else fix

    return start


@pytest.fixture
def completed_fix(start_fix) -> Fix:
    fix = start_fix()
    assert fix.status == "completed" and fix.diff
    return fix


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """Opening ids queued for the worker (the tests run the task's service themselves)."""
    from triage import tasks

    ids: list[int] = []
    monkeypatch.setattr(tasks.open_pull_requests, "delay", ids.append)
    return ids


@pytest.fixture
def refined_before_the_post(upstream, sandbox_wsgi):
    """``with refined_before_the_post(fix):`` the portal talks to the sandbox, but the fix is
    refined in Kolega directly after the portal's last look, so it is no longer completed there
    when the POST of its pull requests arrives."""

    class RefinedJustBeforeThePost(httpx.BaseTransport):
        def __init__(self, fix: Fix):
            self.fix = fix

        def handle_request(self, request):
            if request.method == "POST" and request.url.path.endswith("/pull-requests"):
                upstream.refine_fix(
                    repository_id=self.fix.repository.upstream_id,
                    fix_id=self.fix.upstream_id,
                    instructions="Changed elsewhere",
                )
            return sandbox_wsgi.handle_request(request)

    return lambda fix: override_transport(RefinedJustBeforeThePost(fix))
