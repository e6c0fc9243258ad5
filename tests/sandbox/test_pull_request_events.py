"""A pull request's merge status changes leave `fix_pr_updated`; a merge that also fixes
findings outside the fix links them with `resolved_pr_linked`; an operator can close one."""

import json
from datetime import datetime
from pathlib import Path

import pytest
from django.core.management import call_command

from sandbox import clock
from sandbox.models import SourceRepo
from sandbox.serializers import iso
from sandbox.services.trees import source_tree

pytestmark = pytest.mark.django_db

CONTRACT = Path(__file__).resolve().parents[2] / "kolega-api" / "openapi.json"
TOKEN = "admin-token"
CONTROL = "http://testserver/sandbox/control/pull-requests"
JSON_TYPES = {"string": str, "object": dict, "null": type(None), "integer": int}


def assert_is_finding_event(event: dict) -> None:
    """`event` has exactly the fields of the contract's PublicFindingEventResponse."""
    schema = json.loads(CONTRACT.read_text())["components"]["schemas"]["PublicFindingEventResponse"]
    assert set(schema["required"]) <= set(event), event
    assert set(event) <= set(schema["properties"]), event
    for name, value in event.items():
        prop = schema["properties"][name]
        allowed = [option["type"] for option in prop.get("anyOf", [prop])]
        assert isinstance(value, tuple(JSON_TYPES[kind] for kind in allowed)), (name, value)
        if prop.get("format") == "date-time":
            datetime.fromisoformat(value)


@pytest.fixture
def scanned_twice(api, tiny_repository, frozen_clock):
    """Secrets and SAST scans flag the same hard-coded passwords: two findings per line."""
    for scan_type in ("secrets_scan", "semgrep_scan"):
        api.post(f"/repositories/{tiny_repository.id}/scans", json={"scan_type": scan_type})
        clock.advance(30)
    findings = api.get(f"/repositories/{tiny_repository.id}/findings").json()["items"]
    return tiny_repository, findings


@pytest.fixture
def control(make_client, settings):
    settings.SANDBOX_ADMIN_TOKEN = TOKEN
    return make_client(None)


def _open_pull_request(api, repository, finding_ids) -> tuple[dict, dict]:
    fix = api.post(
        f"/repositories/{repository.id}/fixes",
        json={
            "finding_ids": finding_ids,
            "title": "Read passwords from the environment",
            "instructions": "Use os.environ",
            "source_repo": "acme/api",
        },
    ).json()
    clock.advance(30)
    created = api.post(f"/repositories/{repository.id}/fixes/{fix['id']}/pull-requests", json={})
    assert created.status_code == 201, created.text
    return fix, created.json()["pull_requests"][0]


def _events(api, event_type: str) -> list[dict]:
    return api.get("/finding-events", params={"event_type": event_type}).json()["items"]


def test_merge_emits_fix_pr_updated_and_links_findings_the_merge_also_fixed(
    api, scanned_twice, control
):
    repository, findings = scanned_twice
    secrets = [f for f in findings if f["scan_type"] == "secrets_scan"]
    sast = [f for f in findings if f["scan_type"] == "semgrep_scan"]
    fix_ids = [f["id"] for f in secrets if f["file_path"].startswith("app/")]
    fix, pr = _open_pull_request(api, repository, fix_ids)
    clock.advance(60)

    merged = control.post(
        f"{CONTROL}/merge", json={"pr_url": pr["pr_url"]}, headers={"X-Sandbox-Admin-Token": TOKEN}
    )
    assert merged.status_code == 200, merged.text

    updated = _events(api, "fix_pr_updated")
    assert {e["finding_id"] for e in updated} == set(fix_ids)
    for event in updated:
        assert_is_finding_event(event)
        assert event["metadata"] == {
            "fix_id": fix["id"],
            "pr_url": pr["pr_url"],
            "pr_number": pr["pr_number"],
            "merge_status": "merged",
        }
        assert event["repository_id"] == str(repository.id)
        assert event["event_timestamp"] == merged.json()["merged_at"]

    # The SAST findings on the lines the fix rewrote are gone too: linked to the merge.
    # (Each file of the tiny tree holds one password line.)
    fixed_files = {f["file_path"] for f in secrets if f["id"] in fix_ids}
    also_fixed = {f["id"] for f in sast if f["file_path"] in fixed_files}
    assert len(also_fixed) == 2
    linked = _events(api, "resolved_pr_linked")
    assert {e["finding_id"] for e in linked} == also_fixed
    for event in linked:
        assert_is_finding_event(event)
        assert event["scan_type"] == "semgrep_scan"
        assert (event["previous_status"], event["new_status"]) == ("open", "resolved")
        assert event["metadata"] == {
            "fix_id": fix["id"],
            "pr_url": pr["pr_url"],
            "pr_number": pr["pr_number"],
        }
    assert {e["finding_id"] for e in _events(api, "resolved_pr_merged")} == set(fix_ids)

    statuses = {
        f["id"]: f["status"]
        for f in api.get(f"/repositories/{repository.id}/findings").json()["items"]
    }
    assert all(statuses[finding_id] == "resolved" for finding_id in also_fixed)
    # The worker's password is in another source repo: untouched by the merge.
    assert [statuses[f["id"]] for f in findings if f["file_path"].startswith("worker/")] == [
        "open",
        "open",
    ]

    # Merging again changes nothing and says nothing new.
    again = control.post(
        f"{CONTROL}/merge", json={"pr_url": pr["pr_url"]}, headers={"X-Sandbox-Admin-Token": TOKEN}
    )
    assert again.status_code == 200
    assert len(_events(api, "fix_pr_updated")) == len(fix_ids)
    # A merged pull request cannot be closed.
    closed = control.post(
        f"{CONTROL}/close", json={"pr_url": pr["pr_url"]}, headers={"X-Sandbox-Admin-Token": TOKEN}
    )
    assert closed.status_code == 409
    assert (
        api.get(f"/repositories/{repository.id}/fixes/{fix['id']}").json()["pull_requests"][0][
            "merge_status"
        ]
        == "merged"
    )


def test_close_control_closes_without_merging(api, scanned_twice, control, make_client, settings):
    repository, findings = scanned_twice
    fix_ids = [
        f["id"]
        for f in findings
        if f["scan_type"] == "secrets_scan" and f["file_path"] == "app/settings.py"
    ]
    fix, pr = _open_pull_request(api, repository, fix_ids)
    source = SourceRepo.objects.get(full_name="acme/api")
    tree_before = source_tree(source_repo=source)
    url = f"{CONTROL}/close"

    # Guarded like the merge control: a wrong token is refused, no token configured hides it.
    assert control.post(url, json={"pr_url": pr["pr_url"]}).status_code == 403
    assert (
        control.post(
            url, json={"pr_url": pr["pr_url"]}, headers={"X-Sandbox-Admin-Token": "wrong"}
        ).status_code
        == 403
    )
    assert control.post(url, json={}, headers={"X-Sandbox-Admin-Token": TOKEN}).status_code == 400
    assert (
        control.post(
            url,
            json={"repo_full_name": "acme/api", "pr_number": 99},
            headers={"X-Sandbox-Admin-Token": TOKEN},
        ).status_code
        == 404
    )
    assert _events(api, "fix_pr_updated") == []

    clock.advance(60)
    closed = control.post(
        url,
        json={"repo_full_name": "acme/api", "pr_number": pr["pr_number"]},
        headers={"X-Sandbox-Admin-Token": TOKEN},
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["merge_status"] == "closed" and closed.json()["merged_at"] is None

    shown = api.get(f"/repositories/{repository.id}/fixes/{fix['id']}").json()["pull_requests"]
    assert [(p["pr_number"], p["merge_status"]) for p in shown] == [(pr["pr_number"], "closed")]
    updated = _events(api, "fix_pr_updated")
    assert [e["finding_id"] for e in updated] == fix_ids
    assert_is_finding_event(updated[0])
    assert updated[0]["metadata"]["merge_status"] == "closed"
    assert updated[0]["event_timestamp"] == iso(clock.now())
    # Nothing merged: the tree and the findings stay as they were.
    assert source_tree(source_repo=source) == tree_before
    statuses = {
        f["id"]: f["status"]
        for f in api.get(f"/repositories/{repository.id}/findings").json()["items"]
    }
    assert set(statuses.values()) == {"open"}
    assert _events(api, "resolved_pr_merged") == _events(api, "resolved_pr_linked") == []

    # Closing twice is a no-op; a closed pull request cannot be merged.
    headers = {"X-Sandbox-Admin-Token": TOKEN}
    assert control.post(url, json={"pr_url": pr["pr_url"]}, headers=headers).status_code == 200
    assert len(_events(api, "fix_pr_updated")) == 1
    merge = control.post(f"{CONTROL}/merge", json={"pr_url": pr["pr_url"]}, headers=headers)
    assert merge.status_code == 409

    settings.SANDBOX_ADMIN_TOKEN = ""
    assert control.post(url, json={"pr_url": pr["pr_url"]}, headers=headers).status_code == 404


def test_close_command(api, scanned_twice):
    repository, findings = scanned_twice
    fix_ids = [f["id"] for f in findings if f["file_path"] == "app/db.py"][:1]
    _fix, pr = _open_pull_request(api, repository, fix_ids)
    call_command("sandbox_close_pr", f"acme/api#{pr['pr_number']}")
    assert [e["metadata"]["merge_status"] for e in _events(api, "fix_pr_updated")] == ["closed"]
