"""Organization isolation, scopes and quota exhaustion."""

import pytest

from sandbox import clock
from sandbox.models import Organization
from sandbox.services.organizations import api_key_create, organization_create
from sandbox.services.repositories import repository_create
from tests.sandbox.conftest import TINY_TREES
from tests.sandbox.fix_requests import fix_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def scanned_fix(api, tiny_repository, frozen_clock):
    api.post(f"/repositories/{tiny_repository.id}/scans", json={"scan_type": "secrets_scan"})
    clock.advance(30)
    finding = next(
        f
        for f in api.get(f"/repositories/{tiny_repository.id}/findings").json()["items"]
        if f["file_path"].startswith("app/")
    )
    fix = fix_post(api, tiny_repository.id, [finding["id"]]).json()
    return tiny_repository, finding, fix


def test_another_organizations_ids_are_404(api, scanned_fix, make_client, fake_scanner):
    repository, finding, fix = scanned_fix
    batch_id = api.get(f"/repositories/{repository.id}/scans").json()["items"][0]["batch_id"]
    other_org, other_key = organization_create(name="Globex")
    other_repo = repository_create(
        organization=other_org, name="globex", source_trees={"globex/app": TINY_TREES["acme/api"]}
    )
    other = make_client(other_key)
    r = f"/repositories/{repository.id}"
    for path in (
        r,
        f"{r}/scans",
        f"{r}/scans/{batch_id}",
        f"{r}/scans/{batch_id}/progress",
        f"{r}/scans/{batch_id}/results",
        f"{r}/findings",
        f"{r}/findings/{finding['id']}",
        f"{r}/fixes",
        f"{r}/fixes/{fix['id']}",
        f"{r}/fixes/{fix['id']}/diff",
        f"{r}/fixes/{fix['id']}/progress",
        # The other organization's own repository with this organization's child ids.
        f"/repositories/{other_repo.id}/scans/{batch_id}",
        f"/repositories/{other_repo.id}/findings/{finding['id']}",
        f"/repositories/{other_repo.id}/fixes/{fix['id']}",
    ):
        response = other.get(path)
        assert response.status_code == 404, path
        assert response.json()["detail"]["error_code"] == "NOT_FOUND"
    assert (
        other.patch(f"{r}/findings/{finding['id']}", json={"status": "ignored"}).status_code == 404
    )
    assert other.post(f"{r}/scans", json={"scan_type": "secrets_scan"}).status_code == 404
    assert other.post(f"{r}/fixes/{fix['id']}/cancel").status_code == 404
    assert other.get("/finding-events").json()["total"] == 0
    assert [item["name"] for item in other.get("/repositories").json()["items"]] == ["globex"]


def test_read_only_key_cannot_write(org_and_key, make_client, tiny_repository):
    _, plaintext = api_key_create(organization=org_and_key[0], name="ro", scopes=["read"])
    reader = make_client(plaintext)
    assert reader.get(f"/repositories/{tiny_repository.id}").status_code == 200
    response = reader.post(
        f"/repositories/{tiny_repository.id}/scans", json={"scan_type": "secrets_scan"}
    )
    assert response.status_code == 403
    assert "quota_type" not in response.json()["detail"]


@pytest.mark.parametrize(
    ("scan_type", "counter"),
    [
        ("secrets_scan", "sast_scans"),
        ("semgrep_scan", "sast_scans"),
        ("sbom_scan", "sast_scans"),
        ("deep_ai_scan", "deep_ai_scans"),
    ],
)
def test_scan_quota_exhaustion(api, tiny_repository, scan_type, counter):
    Organization.objects.update(**{f"{counter}_plan": 1, f"{counter}_topup": 1})
    base = f"/repositories/{tiny_repository.id}/scans"
    for _ in range(2):
        assert api.post(base, json={"scan_type": scan_type}).status_code == 202
    balance = api.get("/quotas/balance").json()[counter]
    assert balance == {"plan": 1, "topup": 1, "used": 2, "remaining": 0}
    refused = api.post(base, json={"scan_type": scan_type})
    assert refused.status_code == 403
    assert refused.json()["detail"] == {
        "detail": refused.json()["detail"]["detail"],
        "error_code": "OPERATION_FAILED",
        "quota_type": counter,
    }
    assert api.get(base).json()["total"] == 2, "a refused scan creates nothing"


def test_sast_and_deep_ai_counters_are_separate(api, tiny_repository):
    Organization.objects.update(sast_scans_plan=0)
    base = f"/repositories/{tiny_repository.id}/scans"
    assert api.post(base, json={"scan_type": "semgrep_scan"}).status_code == 403
    assert api.post(base, json={"scan_type": "deep_ai_scan"}).status_code == 202


def test_prs_quota_exhaustion(api, scanned_fix):
    repository, finding, _ = scanned_fix
    assert api.get("/quotas/balance").json()["prs"]["used"] == 1
    Organization.objects.update(prs_plan=1)
    refused = fix_post(api, repository.id, [finding["id"]], title="again")
    assert refused.status_code == 403
    assert refused.json()["detail"]["quota_type"] == "prs"
    assert api.get("/quotas/balance").json()["prs"]["remaining"] == 0
