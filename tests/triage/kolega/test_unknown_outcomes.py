"""POSTs whose answer is lost: the client looks before sending again, or leaves it to the
caller, and never makes the sandbox do the work twice."""

import pytest

from sandbox import clock
from sandbox.models import Fix as SandboxFix
from sandbox.models import PullRequest as SandboxPullRequest
from sandbox.models import ScanBatch as SandboxScanBatch
from sandbox.services.faults import fault_config_clear, fault_config_set
from tests.triage.kolega.sandbox_data import FIX_SECONDS, scan_to_completion
from tests.triage.kolega.transports import AnswerLosingTransport, RecordingTransport
from triage.kolega import KolegaUnavailable, RetryPolicy

pytestmark = pytest.mark.django_db


def posts(transport):
    return [request for request in transport.requests if request.method == "POST"]


def _faults_until_first_answer(sandbox_org, sandbox_transport, **faults) -> RecordingTransport:
    """Set ``faults`` on the organization and clear them once the first answer is in; the
    transport records every status."""
    fault_config_set(organization=sandbox_org[0], **faults)
    transport = RecordingTransport(sandbox_transport)
    transport.after_response = lambda request, response: fault_config_clear(
        organization=sandbox_org[0]
    )
    return transport


@pytest.fixture
def make_losing_client(make_kolega, sandbox_org, sandbox_transport):
    def make(**options):
        transport = AnswerLosingTransport(sandbox_transport, **options)
        return make_kolega(api_key=sandbox_org[1], transport=transport), transport

    return make


@pytest.fixture
def finding(kolega, repository):
    scan_to_completion(kolega, repository)
    return kolega.list_findings(repository_id=str(repository.id), limit=1).items[0]


def _secrets_fix(client, repository, finding):
    """Ask ``client`` for a fix of ``finding`` (a leaked secret) of ``repository``."""
    return client.create_fix(
        repository_id=str(repository.id),
        finding_ids=[finding.id],
        title="Secrets out of the code",
        instructions="Read them from the environment",
        source_repo="acme/api",
    )


@pytest.fixture
def completed_fix(kolega, repository, finding):
    fix = _secrets_fix(kolega, repository, finding)
    clock.advance(FIX_SECONDS)
    return kolega.get_fix(repository_id=str(repository.id), fix_id=fix.id)


def test_a_scan_whose_answer_was_lost_is_found_not_started_twice(
    make_losing_client, repository, sleeps
):
    client, transport = make_losing_client()

    batch = client.create_scan(repository_id=str(repository.id), scan_type="secrets_scan")

    stored = SandboxScanBatch.objects.get(repository=repository)
    assert batch.batch_id == str(stored.id)
    assert len(posts(transport)) == 1
    assert [request.method for request in transport.requests] == ["POST", "GET"]
    assert len(sleeps) == 1  # waited before looking


def test_a_scan_request_lost_on_the_way_is_sent_again_after_looking(make_losing_client, repository):
    client, transport = make_losing_client(reaches_server=False)

    batch = client.create_scan(repository_id=str(repository.id), scan_type="secrets_scan")

    assert SandboxScanBatch.objects.filter(repository=repository).count() == 1
    assert batch.batch_id == str(SandboxScanBatch.objects.get(repository=repository).id)
    assert [request.method for request in transport.requests] == ["POST", "GET", "POST"]


def test_an_earlier_scan_of_another_type_is_not_mistaken_for_the_lost_one(
    kolega, make_losing_client, repository
):
    kolega.create_scan(repository_id=str(repository.id), scan_type="semgrep_scan")
    client, _ = make_losing_client(reaches_server=False)

    batch = client.create_scan(repository_id=str(repository.id), scan_type="secrets_scan")

    assert batch.scan_type == "secrets_scan"
    assert SandboxScanBatch.objects.filter(repository=repository).count() == 2


def test_a_fix_whose_answer_was_lost_is_found_not_created_twice(
    make_losing_client, repository, finding
):
    client, transport = make_losing_client()

    fix = _secrets_fix(client, repository, finding)

    stored = SandboxFix.objects.get(repository=repository)
    assert fix.id == str(stored.id)
    assert len(posts(transport)) == 1


def test_a_lost_refine_is_recognised_by_the_fix_running_again(
    make_losing_client, repository, completed_fix
):
    client, transport = make_losing_client()

    refined = client.refine_fix(
        repository_id=str(repository.id), fix_id=completed_fix.id, instructions="And tests"
    )

    assert refined.status in ("pending", "running")
    assert len(posts(transport)) == 1
    assert SandboxFix.objects.get(pk=completed_fix.id).run_number == 1


def test_a_lost_cancel_is_recognised_by_the_fix_being_cancelled(
    make_losing_client, repository, finding
):
    client, transport = make_losing_client(
        matches=lambda request: request.url.path.endswith("/cancel")
    )
    fix = _secrets_fix(client, repository, finding)

    cancelled = client.cancel_fix(repository_id=str(repository.id), fix_id=fix.id)

    assert cancelled.status == "cancelled"
    assert len([r for r in posts(transport) if r.url.path.endswith("/cancel")]) == 1


def test_lost_pull_requests_are_left_to_the_caller(make_losing_client, repository, completed_fix):
    client, transport = make_losing_client()

    with pytest.raises(KolegaUnavailable) as caught:
        client.create_pull_requests(repository_id=str(repository.id), fix_id=completed_fix.id)

    assert caught.value.outcome_unknown is True
    assert len(transport.requests) == 1
    assert SandboxPullRequest.objects.filter(fix_id=completed_fix.id).count() == 1
    # What the caller does next: read the fix and find the pull requests it opened.
    fix = client.get_fix(repository_id=str(repository.id), fix_id=completed_fix.id)
    assert len(fix.pull_requests) == 1


@pytest.mark.parametrize("seed", range(3))
def test_a_server_error_on_opening_pull_requests_is_not_retried(
    kolega, repository, completed_fix, sandbox_org, sandbox_transport, seed
):
    fault_config_set(organization=sandbox_org[0], rate_5xx=1.0, seed=seed)
    before = kolega.request_count

    with pytest.raises(KolegaUnavailable) as caught:
        kolega.create_pull_requests(repository_id=str(repository.id), fix_id=completed_fix.id)

    assert kolega.request_count == before + 1
    assert caught.value.outcome_unknown is True
    assert caught.value.status_code in (500, 502, 503)


def test_a_status_change_is_retried_through_server_errors(
    make_kolega, repository, finding, sandbox_org, sandbox_transport
):
    # Seed 3 answers 502 to every request until the faults are cleared.
    transport = _faults_until_first_answer(sandbox_org, sandbox_transport, rate_5xx=1.0, seed=3)
    client = make_kolega(api_key=sandbox_org[1], transport=transport)

    updated = client.update_finding_status(
        repository_id=str(repository.id), finding_id=finding.id, status="ignored"
    )

    assert updated.status == "ignored"
    assert transport.statuses == [502, 200]


def test_a_rate_limited_post_is_sent_again(
    make_kolega, repository, sandbox_org, sandbox_transport, sleeps
):
    # A 429 is a refusal: the scan was not started, so sending it again is safe.
    transport = _faults_until_first_answer(
        sandbox_org, sandbox_transport, rate_429=1.0, retry_after_seconds=1
    )
    client = make_kolega(
        api_key=sandbox_org[1], transport=transport, retry_policy=RetryPolicy(max_attempts=2)
    )

    batch = client.create_scan(repository_id=str(repository.id), scan_type="secrets_scan")

    assert transport.statuses == [429, 202]
    assert sleeps == [1.0]
    assert SandboxScanBatch.objects.get(repository=repository).id.hex == batch.batch_id.replace(
        "-", ""
    )
