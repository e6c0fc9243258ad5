"""Fixes move with the sandbox clock; pull requests and merging close the loop."""

import pytest
from django.core.management import call_command

from sandbox import clock
from sandbox.models import SourceRepo
from sandbox.services.trees import source_tree
from tests.sandbox.fix_requests import fix_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def scanned(api, tiny_repository, frozen_clock):
    """The tiny repository after one completed secrets scan."""
    api.post(f"/repositories/{tiny_repository.id}/scans", json={"scan_type": "secrets_scan"})
    clock.advance(30)
    findings = api.get(f"/repositories/{tiny_repository.id}/findings").json()["items"]
    return tiny_repository, findings


def _create_fix(api, repository, findings, source_repo="acme/api"):
    ids = [f["id"] for f in findings if f["file_path"].startswith("app/")]
    response = fix_post(
        api,
        repository.id,
        ids,
        title="Read passwords from the environment",
        instructions="Use os.environ",
        source_repo=source_repo,
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_fix_goes_pending_running_completed_with_a_diff(api, scanned):
    repository, findings = scanned
    fix = _create_fix(api, repository, findings)
    base = f"/repositories/{repository.id}/fixes/{fix['id']}"
    assert fix["status"] == "pending"
    assert fix["started_at"] is None and fix["pull_requests"] == []
    assert api.get(f"{base}/diff").json() == {
        "fix_id": fix["id"],
        "status": "pending",
        "diff": None,
    }

    clock.advance(4)
    progress = api.get(f"{base}/progress").json()
    assert progress["status"] == "running"
    first_steps, first_activity = progress["agent_steps_completed"], progress["latest_activity_at"]
    assert api.get(f"{base}/diff").json()["diff"] is None

    clock.advance(8)
    progress = api.get(f"{base}/progress").json()
    assert progress["status"] == "running"
    assert progress["agent_steps_completed"] > first_steps
    assert progress["latest_activity_at"] > first_activity
    assert progress["duration_seconds"] > 0

    clock.advance(20)
    body = api.get(base).json()
    assert body["status"] == "completed"
    assert body["completed_at"] is not None
    diff = api.get(f"{base}/diff").json()["diff"]
    assert "diff --git a/app/settings.py b/app/settings.py" in diff
    assert "+password = os.environ" in diff

    events = api.get("/finding-events", params={"limit": 200}).json()["items"]
    kinds = [e["event_type"] for e in events if e["metadata"].get("fix_id") == fix["id"]]
    assert sorted(set(kinds)) == ["fix_completed", "fix_created", "fix_started"]
    assert kinds.count("fix_completed") == 2  # one per finding of the fix


def test_refine_runs_again_and_changes_the_diff(api, scanned):
    repository, findings = scanned
    fix = _create_fix(api, repository, findings)
    base = f"/repositories/{repository.id}/fixes/{fix['id']}"
    early = api.post(f"{base}/refine", json={"instructions": "too early"})
    assert early.status_code == 409
    assert early.json()["detail"]["error_code"] == "OPERATION_FAILED"

    clock.advance(30)
    first_diff = api.get(f"{base}/diff").json()["diff"]
    refined = api.post(f"{base}/refine", json={"instructions": "Fall back to an empty string"})
    assert refined.status_code == 200
    assert refined.json()["status"] == "running"
    assert api.get(f"{base}/diff").json()["diff"] is None
    clock.advance(20)
    second = api.get(f"{base}/diff").json()
    assert second["status"] == "completed"
    assert second["diff"] and second["diff"] != first_diff


def test_cancel_stops_a_running_fix_and_not_a_finished_one(api, scanned):
    repository, findings = scanned
    fix = _create_fix(api, repository, findings)
    base = f"/repositories/{repository.id}/fixes/{fix['id']}"
    clock.advance(5)
    cancelled = api.post(f"{base}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    clock.advance(60)
    assert api.get(base).json()["status"] == "cancelled"
    assert api.get(f"{base}/diff").json()["diff"] is None
    assert api.post(f"{base}/cancel").status_code == 409
    events = api.get("/finding-events", params={"event_type": "fix_cancelled"}).json()
    assert events["total"] == 2


def test_pull_requests_need_a_completed_fix(api, scanned):
    repository, findings = scanned
    fix = _create_fix(api, repository, findings)
    response = api.post(f"/repositories/{repository.id}/fixes/{fix['id']}/pull-requests", json={})
    assert response.status_code == 409
    assert response.json()["detail"]["error_code"] == "OPERATION_FAILED"


def test_pull_requests_open_per_post_and_merge_resolves_findings(api, scanned):
    repository, findings = scanned
    fix = _create_fix(api, repository, findings)
    base = f"/repositories/{repository.id}/fixes/{fix['id']}"
    clock.advance(30)
    first = api.post(f"{base}/pull-requests", json={})
    assert first.status_code == 201
    created = first.json()["pull_requests"]
    assert len(created) == 1
    pr = created[0]
    assert pr["repo_full_name"] == "acme/api"
    assert pr["pr_url"] == f"https://github.com/acme/api/pull/{pr['pr_number']}"
    assert pr["merge_status"] == "open" and pr["merged_at"] is None
    # No dedupe upstream: a second POST opens another pull request with the next number.
    second = api.post(f"{base}/pull-requests", json={"branch_name": "custom/branch"}).json()
    assert second["pull_requests"][0]["pr_number"] == pr["pr_number"] + 1
    assert second["pull_requests"][0]["branch_name"] == "custom/branch"
    assert len(api.get(base).json()["pull_requests"]) == 2

    call_command("sandbox_merge_pr", pr["pr_url"])
    source = SourceRepo.objects.get(full_name="acme/api")
    assert 'os.environ["PASSWORD"]' in source_tree(source_repo=source)["app/settings.py"]
    fixed_ids = set(fix["finding_ids"])
    after = api.get(f"/repositories/{repository.id}/findings").json()["items"]
    assert {f["id"] for f in after if f["status"] == "resolved"} == fixed_ids
    merged_events = api.get("/finding-events", params={"event_type": "resolved_pr_merged"}).json()
    assert {e["finding_id"] for e in merged_events["items"]} == fixed_ids
    pr_after = api.get(base).json()["pull_requests"][0]
    assert pr_after["merge_status"] == "merged" and pr_after["merged_at"]

    # The next scan no longer finds what the merge fixed: the findings stay resolved.
    api.post(f"/repositories/{repository.id}/scans", json={"scan_type": "secrets_scan"})
    clock.advance(30)
    rescanned = api.get(f"/repositories/{repository.id}/findings").json()["items"]
    assert {f["id"] for f in rescanned if f["status"] == "open"}.isdisjoint(fixed_ids)
    assert api.get("/finding-events", params={"event_type": "reopened"}).json()["total"] == 0


def test_fix_validation_and_lookup_errors(api, scanned):
    repository, findings = scanned
    base = f"/repositories/{repository.id}/fixes"
    payload = {"title": "t", "instructions": "i", "source_repo": "acme/api"}
    unknown_repo = api.post(base, json=payload | {"source_repo": "acme/nope"})
    assert unknown_repo.status_code == 404
    unknown_finding = api.post(base, json=payload | {"finding_ids": ["not-a-finding"]})
    assert unknown_finding.status_code == 404
    worker_finding = next(f["id"] for f in findings if f["file_path"].startswith("worker/"))
    mixed = api.post(base, json=payload | {"finding_ids": [worker_finding]})
    assert mixed.status_code == 400
    assert mixed.json()["detail"]["error_code"] == "MULTIPLE_REPOSITORIES"
    long_title = api.post(base, json=payload | {"title": "x" * 201})
    assert long_title.status_code == 422
    assert long_title.json()["detail"][0]["loc"] == ["body", "title"]
    assert api.post(base, json=payload | {"source_repo_provider": "bitbucket"}).status_code == 422


def test_fixes_list_filters_by_finding(api, scanned):
    repository, findings = scanned
    fix = _create_fix(api, repository, findings)
    base = f"/repositories/{repository.id}/fixes"
    assert api.get(base).json()["total"] == 1
    one = api.get(base, params={"finding_id": fix["finding_ids"][0]}).json()
    assert [f["id"] for f in one["items"]] == [fix["id"]]
    other = next(f["id"] for f in findings if f["id"] not in fix["finding_ids"])
    assert api.get(base, params={"finding_id": other}).json()["total"] == 0


def test_control_endpoint_merges_a_pull_request(api, scanned, make_client, settings):
    repository, findings = scanned
    fix = _create_fix(api, repository, findings)
    clock.advance(30)
    pr = api.post(f"/repositories/{repository.id}/fixes/{fix['id']}/pull-requests", json={}).json()[
        "pull_requests"
    ][0]
    settings.SANDBOX_ADMIN_TOKEN = "admin-token"
    control = make_client(None)
    url = "http://testserver/sandbox/control/pull-requests/merge"
    assert control.post(url, json={"pr_url": pr["pr_url"]}).status_code == 403
    merged = control.post(
        url, json={"pr_url": pr["pr_url"]}, headers={"X-Sandbox-Admin-Token": "admin-token"}
    )
    assert merged.status_code == 200
    assert merged.json()["merge_status"] == "merged"
    statuses = {
        f["id"]: f["status"]
        for f in api.get(f"/repositories/{repository.id}/findings").json()["items"]
    }
    assert all(statuses[finding_id] == "resolved" for finding_id in fix["finding_ids"])
