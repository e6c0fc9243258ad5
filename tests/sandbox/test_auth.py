import pytest

from sandbox.services.organizations import api_key_create, organization_create

pytestmark = pytest.mark.django_db


def test_me_describes_the_key_and_its_organization(api, org_and_key):
    organization, key = org_and_key
    response = api.get("/me")
    assert response.status_code == 200
    body = response.json()
    assert body["organization_id"] == str(organization.id)
    assert body["organization_name"] == "Acme Corp"
    assert body["organization_slug"] == "acme"
    assert body["api_key"]["key_prefix"] == key[: len(body["api_key"]["key_prefix"])]
    assert key.startswith("kcp_test_")
    assert body["api_key"]["scopes"] == ["read", "write"]


def test_keys_are_stored_hashed(org_and_key):
    organization, key = org_and_key
    stored = organization.keys.get()
    assert key not in (stored.key_hash, stored.key_prefix)
    assert len(stored.key_hash) == 64


@pytest.mark.parametrize("header", [None, "Bearer kcp_test_unknown", "Basic abc", "Bearer "])
def test_missing_or_unknown_key_is_401_in_the_envelope(make_client, header, db):
    client = make_client(None)
    headers = {"Authorization": header} if header else {}
    response = client.get("/me", headers=headers)
    assert response.status_code == 401
    detail = response.json()["detail"]
    assert set(detail) == {"detail", "error_code"}
    assert isinstance(detail["detail"], str)


def test_revoked_key_is_401(api, org_and_key):
    organization, _ = org_and_key
    organization.keys.update(revoked_at="2020-01-01T00:00:00Z")
    assert api.get("/me").status_code == 401


def test_quota_balance_has_every_counter(api):
    response = api.get("/quotas/balance")
    assert response.status_code == 200
    body = response.json()
    for counter in ("prs", "sast_scans", "deep_ai_scans"):
        assert set(body[counter]) == {"plan", "topup", "used", "remaining"}
        assert body[counter]["remaining"] == body[counter]["plan"] - body[counter]["used"]
    assert body["repositories"] == {"max": None, "current": 0}
    assert body["period_start"] < body["period_end"]


def test_second_key_with_read_scope_only(org_and_key, make_client):
    organization, _ = org_and_key
    key, plaintext = api_key_create(organization=organization, name="CI", scopes=["read"])
    body = make_client(plaintext).get("/me").json()
    assert body["api_key"] == {
        "id": str(key.id),
        "name": "CI",
        "key_prefix": key.key_prefix,
        "scopes": ["read"],
    }


def test_unknown_api_path_and_wrong_method(api):
    assert api.get("/nope").status_code == 404
    response = api.post("/me")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


def test_a_key_sees_only_its_organization(make_client, db):
    _, key_a = organization_create(name="Org A")
    _, key_b = organization_create(name="Org B")
    assert make_client(key_a).get("/me").json()["organization_name"] == "Org A"
    assert make_client(key_b).get("/me").json()["organization_name"] == "Org B"
