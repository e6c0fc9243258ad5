"""Network failures the sandbox cannot produce by itself: refused connections, timeouts."""

import httpx
import pytest

from tests.triage.kolega.transports import RefusingTransport
from triage.kolega import KolegaUnavailable, RetryPolicy

KEY = "kcp_test_transportfailuresKEY0123456789"


class TimingOut(httpx.MockTransport):
    """Every request times out; the requests are kept to see what the client tried."""

    def __init__(self, exc_type: type[httpx.TimeoutException]) -> None:
        self.requests: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            raise exc_type("timed out", request=request)

        super().__init__(handler)


def timing_out(exc_type: type[httpx.TimeoutException]) -> TimingOut:
    return TimingOut(exc_type)


def test_refused_connections_are_retried_with_backoff_then_reported(make_kolega, sleeps):
    transport = RefusingTransport(refusals=100)
    client = make_kolega(api_key=KEY, transport=transport)

    with pytest.raises(KolegaUnavailable) as caught:
        client.me()

    assert transport.attempts == 4
    assert client.request_count == 4
    assert caught.value.reason == "connection refused"
    assert caught.value.status_code is None
    assert caught.value.outcome_unknown is False
    assert len(sleeps) == 3
    assert all(0 <= wait <= ceiling for wait, ceiling in zip(sleeps, [0.5, 1.0, 2.0], strict=True))


def test_a_post_that_never_left_is_retried_even_when_it_is_never_retried_otherwise(
    make_kolega, sleeps
):
    transport = RefusingTransport(refusals=100)
    client = make_kolega(api_key=KEY, transport=transport)

    with pytest.raises(KolegaUnavailable) as caught:
        client.create_pull_requests(repository_id="r1", fix_id="f1")

    assert transport.attempts == 4
    # Refused connections prove nothing was sent: the caller need not reconcile.
    assert caught.value.outcome_unknown is False


def test_read_timeout_on_a_get_is_retried(make_kolega, sleeps):
    client = make_kolega(
        api_key=KEY, transport=timing_out(httpx.ReadTimeout), timeout=httpx.Timeout(10.0)
    )

    with pytest.raises(KolegaUnavailable) as caught:
        client.get_fix(repository_id="r1", fix_id="f1")

    assert client.request_count == 4
    assert caught.value.reason == "timed out after 10s waiting for a response"


def test_connect_timeout_names_the_connect_timeout(make_kolega):
    client = make_kolega(
        api_key=KEY,
        transport=timing_out(httpx.ConnectTimeout),
        timeout=httpx.Timeout(20.0, connect=3.0),
        retry_policy=RetryPolicy(max_attempts=2),
    )

    with pytest.raises(KolegaUnavailable) as caught:
        client.me()

    assert client.request_count == 2
    assert caught.value.reason == "connect timed out after 3s"


def test_read_timeout_on_opening_pull_requests_is_never_retried(make_kolega, sleeps):
    client = make_kolega(api_key=KEY, transport=timing_out(httpx.ReadTimeout))

    with pytest.raises(KolegaUnavailable) as caught:
        client.create_pull_requests(repository_id="r1", fix_id="f1", title="Fix it")

    assert client.request_count == 1
    assert sleeps == []
    assert caught.value.outcome_unknown is True
    assert "may or may not have taken effect" in caught.value.message


def test_reconciliation_that_cannot_look_reports_an_unknown_outcome(make_kolega, sleeps):
    # Every request times out: the POST's answer is lost and so is the look that follows.
    transport = timing_out(httpx.ReadTimeout)
    client = make_kolega(
        api_key=KEY,
        transport=transport,
        retry_policy=RetryPolicy(max_attempts=2),
    )

    with pytest.raises(KolegaUnavailable) as caught:
        client.create_scan(repository_id="r1", scan_type="semgrep_scan")

    assert caught.value.outcome_unknown is True
    methods = [request.method for request in transport.requests]
    assert methods[0] == "POST"
    assert methods.count("POST") == 1  # never re-sent while its outcome is unknown
    assert set(methods[1:]) == {"GET"}
