"""Errors and retries against the sandbox: real responses, injected faults."""

import logging

import pytest

from sandbox.services.faults import fault_config_clear, fault_config_set
from sandbox.services.organizations import api_key_revoke, organization_create
from triage.kolega import (
    PORTAL_VERSION,
    KolegaAuthError,
    KolegaMalformedResponse,
    KolegaRateLimited,
    KolegaUnavailable,
    Me,
)

pytestmark = pytest.mark.django_db


def test_me_describes_the_organization_and_key(kolega, sandbox_org, sandbox_transport):
    organization, key = sandbox_org

    me = kolega.me()

    assert isinstance(me, Me)
    assert me.organization_id == str(organization.id)
    assert me.organization_slug == "client-test"
    assert me.organization_name == "Client Test Org"
    assert key.startswith(me.api_key.key_prefix)
    assert sorted(me.api_key.scopes) == ["read", "write"]
    request = sandbox_transport.requests[0]
    assert str(request.url) == "http://sandbox.test/sandbox/api/v1/me"
    assert request.headers["Authorization"] == f"Bearer {key}"
    assert request.headers["User-Agent"] == f"TriagePortal/{PORTAL_VERSION}"
    assert kolega.request_count == 1


def test_user_agent_suffix_is_appended(make_kolega, sandbox_org, sandbox_transport):
    client = make_kolega(
        api_key=sandbox_org[1], transport=sandbox_transport, user_agent_suffix="sync/1"
    )
    client.me()
    assert sandbox_transport.requests[0].headers["User-Agent"] == (
        f"TriagePortal/{PORTAL_VERSION} sync/1"
    )


def test_quota_balance_reads_every_counter(kolega):
    balance = kolega.quota_balance()

    assert balance.period_start < balance.period_end
    for counter in (balance.prs, balance.sast_scans, balance.deep_ai_scans):
        assert counter.remaining == counter.plan + counter.topup - counter.used
    assert balance.repositories.current >= 0


def test_unknown_key_is_an_auth_error_and_not_retried(make_kolega, sandbox_org, sandbox_transport):
    bad_key = "kcp_test_thisKeyDoesNotExist0000000000"
    client = make_kolega(api_key=bad_key, transport=sandbox_transport)

    with pytest.raises(KolegaAuthError) as caught:
        client.me()

    assert caught.value.status_code == 401
    assert caught.value.error_code == "UNAUTHORIZED"
    assert client.request_count == 1
    for text in (str(caught.value), repr(caught.value), caught.value.message, repr(client)):
        assert bad_key not in text


def test_revoked_key_is_an_auth_error(kolega, sandbox_org):
    organization, key = sandbox_org
    api_key_revoke(organization=organization, key_prefix=key[:12])

    with pytest.raises(KolegaAuthError) as caught:
        kolega.me()

    assert caught.value.status_code == 401
    assert "revoked" in caught.value.message


def test_key_without_the_scope_is_an_auth_error(make_kolega, sandbox_transport, db):
    _, key = organization_create(name="No scopes", scopes=())
    client = make_kolega(api_key=key, transport=sandbox_transport)

    with pytest.raises(KolegaAuthError) as caught:
        client.me()

    assert caught.value.status_code == 403
    assert caught.value.error_code == "FORBIDDEN"


def test_rate_limit_waits_as_told_then_gives_up(kolega, sandbox_org, sleeps):
    fault_config_set(organization=sandbox_org[0], rate_429=1.0, retry_after_seconds=3)

    with pytest.raises(KolegaRateLimited) as caught:
        kolega.me()

    assert kolega.request_count == 4
    assert sleeps == [3.0, 3.0, 3.0]
    assert caught.value.retry_after == 3.0
    assert caught.value.status_code == 429


def test_rate_limit_recovers_after_waiting(kolega, sandbox_org, sandbox_transport, sleeps):
    fault_config_set(organization=sandbox_org[0], rate_429=1.0, retry_after_seconds=2)
    sandbox_transport.after_response = lambda request, response: fault_config_clear(
        organization=sandbox_org[0]
    )

    me = kolega.me()

    assert me.organization_slug == "client-test"
    assert sandbox_transport.statuses == [429, 200]
    assert sleeps == [2.0]


def test_a_wait_longer_than_the_cap_is_handed_to_the_caller(kolega, sandbox_org, sleeps):
    fault_config_set(organization=sandbox_org[0], rate_429=1.0, retry_after_seconds=120)

    with pytest.raises(KolegaRateLimited) as caught:
        kolega.me()

    assert kolega.request_count == 1
    assert sleeps == []
    assert caught.value.retry_after == 120.0


@pytest.mark.parametrize("seed", range(6))
def test_server_errors_are_retried_only_when_they_are_gateway_errors(
    kolega, sandbox_org, sandbox_transport, sleeps, seed
):
    fault_config_set(organization=sandbox_org[0], rate_5xx=1.0, retry_after_seconds=1, seed=seed)

    with pytest.raises(KolegaUnavailable) as caught:
        kolega.me()

    statuses = sandbox_transport.statuses
    assert all(status in (500, 502, 503) for status in statuses)
    # 502/503 are retried; a 500 is reported at once; at most four tries in all.
    assert all(status in (502, 503) for status in statuses[:-1])
    assert statuses[-1] == 500 or len(statuses) == 4
    assert caught.value.status_code == statuses[-1]
    assert caught.value.reason == f"HTTP {statuses[-1]} from Kolega"
    assert caught.value.outcome_unknown is False
    # A 503 carries Retry-After (1 s here); a 502 backs off with jitter.
    for status, wait in zip(statuses, sleeps, strict=False):
        if status == 503:
            assert wait == 1.0
        else:
            assert 0 <= wait <= 8.0


@pytest.mark.parametrize("seed", range(4))
def test_a_gateway_error_then_success_answers_normally(
    kolega, sandbox_org, sandbox_transport, seed
):
    fault_config_set(organization=sandbox_org[0], rate_5xx=1.0, seed=seed)
    sandbox_transport.after_response = lambda request, response: fault_config_clear(
        organization=sandbox_org[0]
    )

    try:
        balance = kolega.quota_balance()
    except KolegaUnavailable as error:
        assert sandbox_transport.statuses == [500]
        assert error.status_code == 500
    else:
        assert sandbox_transport.statuses[0] in (502, 503)
        assert sandbox_transport.statuses[1:] == [200]
        assert balance.prs.plan > 0


@pytest.mark.parametrize("seed", range(4))
def test_malformed_bodies_are_reported_not_parsed(kolega, sandbox_org, sandbox_transport, seed):
    fault_config_set(organization=sandbox_org[0], malformed_rate=1.0, seed=seed)

    with pytest.raises(KolegaMalformedResponse) as caught:
        kolega.me()

    assert kolega.request_count == 1
    assert caught.value.status_code == 200
    assert "not JSON" in caught.value.message


def test_calls_are_logged_without_the_key(kolega, sandbox_org, caplog):
    caplog.set_level(logging.DEBUG, logger="triage.kolega")
    fault_config_set(organization=sandbox_org[0], rate_429=1.0, retry_after_seconds=1)
    with pytest.raises(KolegaRateLimited):
        kolega.me()
    fault_config_clear(organization=sandbox_org[0])
    kolega.me()

    records = [record for record in caplog.records if record.name == "triage.kolega"]
    assert [record.kolega_attempt for record in records] == [1, 2, 3, 4, 1]
    assert [record.kolega_status for record in records] == [429, 429, 429, 429, 200]
    assert {record.kolega_method for record in records} == {"GET"}
    assert {record.kolega_path for record in records} == {"/api/v1/me"}
    assert all(record.kolega_duration_ms >= 0 for record in records)
    assert "GET /api/v1/me -> 200" in records[-1].getMessage()
    key = sandbox_org[1]
    for record in records:
        assert key not in record.getMessage()
        assert key not in str(record.__dict__)
        assert "Bearer" not in str(record.__dict__)
