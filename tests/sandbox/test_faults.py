"""Injected faults: every kind, per organization, repeatable by seed."""

import json
import time

import httpx
import pytest
from django.core.management import call_command

from sandbox.models import FaultConfig
from sandbox.services.faults import fault_config_set
from sandbox.services.organizations import organization_create

pytestmark = pytest.mark.django_db


def _statuses(api, count=40):
    return [api.get("/me").status_code for _ in range(count)]


def test_rate_limited_responses_carry_retry_after(api, org_and_key):
    fault_config_set(organization=org_and_key[0], rate_429=0.5, retry_after_seconds=7, seed=1)
    responses = [api.get("/me") for _ in range(40)]
    limited = [r for r in responses if r.status_code == 429]
    assert 5 < len(limited) < 35
    assert all(r.headers["Retry-After"] == "7" for r in limited)
    assert {r.status_code for r in responses} == {200, 429}


def test_server_errors_cover_500_502_503(api, org_and_key):
    fault_config_set(organization=org_and_key[0], rate_5xx=1.0, seed=3)
    responses = [api.get("/me") for _ in range(40)]
    assert {r.status_code for r in responses} == {500, 502, 503}
    assert all(r.headers.get("Retry-After") for r in responses if r.status_code == 503)


def test_same_seed_gives_the_same_sequence(api, org_and_key):
    organization = org_and_key[0]
    fault_config_set(organization=organization, rate_429=0.3, rate_5xx=0.3, seed=42)
    first = _statuses(api)
    fault_config_set(organization=organization, seed=42)  # restarts the sequence
    assert _statuses(api) == first
    fault_config_set(organization=organization, seed=43)
    assert _statuses(api) != first


def test_faults_are_per_organization(api, org_and_key, make_client):
    fault_config_set(organization=org_and_key[0], rate_5xx=1.0)
    _, other_key = organization_create(name="Calm Org")
    assert set(_statuses(make_client(other_key), 10)) == {200}
    assert 200 not in _statuses(api, 10)


def test_latency_and_jitter_delay_responses(api, org_and_key):
    fault_config_set(organization=org_and_key[0], latency_ms=60, jitter_ms=40, seed=5)
    started = time.perf_counter()
    for _ in range(5):
        assert api.get("/me").status_code == 200
    elapsed = time.perf_counter() - started
    assert elapsed >= 0.3, "five responses of at least 60 ms each"


def test_slow_responses_outlast_a_client_timeout(api, org_and_key):
    fault_config_set(organization=org_and_key[0], slow_ms=300)
    started = time.perf_counter()
    assert api.get("/me").status_code == 200
    assert time.perf_counter() - started >= 0.3


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_slow_response_times_out_a_real_http_client(live_server):
    organization, key = organization_create(name="Slow Org")
    fault_config_set(organization=organization, slow_ms=1500)
    with (
        httpx.Client(
            base_url=f"{live_server.url}/sandbox/api/v1",
            headers={"Authorization": f"Bearer {key}"},
            timeout=0.3,
        ) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        client.get("/me")


def test_malformed_bodies_are_truncated_or_not_json(api, org_and_key):
    fault_config_set(organization=org_and_key[0], malformed_rate=1.0, seed=9)
    bodies = [api.get("/me") for _ in range(20)]
    assert all(r.status_code == 200 for r in bodies)
    styles = set()
    for response in bodies:
        with pytest.raises(json.JSONDecodeError):
            json.loads(response.content)
        styles.add("truncated" if response.content.startswith(b"{") else "not_json")
    assert styles == {"truncated", "not_json"}


def test_revoked_key_through_the_command(api, org_and_key):
    organization, key = org_and_key
    assert api.get("/me").status_code == 200
    call_command("sandbox_faults", "--org", organization.slug, "--revoke-key", key[:12])
    response = api.get("/me")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]["detail"]


def test_command_sets_and_clears_faults(api, org_and_key):
    organization = org_and_key[0]
    call_command("sandbox_faults", "--org", organization.slug, "--rate-5xx", "1", "--seed", "2")
    assert FaultConfig.objects.get(organization=organization).rate_5xx == 1.0
    assert api.get("/me").status_code >= 500
    call_command("sandbox_faults", "--org", organization.slug, "--clear")
    assert api.get("/me").status_code == 200


def test_control_endpoint_needs_the_admin_token(api, org_and_key, make_client, settings):
    control = make_client(None)
    url = "http://testserver/sandbox/control/faults"
    payload = {"organization": org_and_key[0].slug, "rate_429": 1.0, "retry_after_seconds": 3}
    settings.SANDBOX_ADMIN_TOKEN = ""
    assert control.post(url, json=payload).status_code == 404
    settings.SANDBOX_ADMIN_TOKEN = "s3cret-admin"
    assert control.post(url, json=payload).status_code == 403
    accepted = control.post(url, json=payload, headers={"X-Sandbox-Admin-Token": "s3cret-admin"})
    assert accepted.status_code == 200
    assert accepted.json()["faults"]["rate_429"] == 1.0
    limited = api.get("/me")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
    cleared = control.post(
        url,
        json={"organization": org_and_key[0].slug, "clear": True},
        headers={"X-Sandbox-Admin-Token": "s3cret-admin"},
    )
    assert cleared.json()["faults"] is None
    assert api.get("/me").status_code == 200


def test_control_clock_moves_sandbox_time(make_client, settings, db):
    settings.SANDBOX_ADMIN_TOKEN = "tok"
    control = make_client(None)
    url = "http://testserver/sandbox/control/clock"
    headers = {"X-Sandbox-Admin-Token": "tok"}
    moved = control.post(url, json={"advance_seconds": 3600}, headers=headers).json()
    assert moved["offset_seconds"] == 3600
    assert control.post(url, json={"reset": True}, headers=headers).json()["offset_seconds"] == 0
