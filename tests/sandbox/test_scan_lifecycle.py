"""Scan batches move with the sandbox clock: queued → … → completed, with no worker."""

import pytest

from sandbox import clock
from sandbox.models import SourceRepo
from sandbox.services.repositories import source_repo_fail_scans_set
from sandbox.services.trees import source_tree, source_tree_write

pytestmark = pytest.mark.django_db


def _start(api, repository, scan_type="secrets_scan"):
    response = api.post(f"/repositories/{repository.id}/scans", json={"scan_type": scan_type})
    assert response.status_code == 202, response.text
    return response.json()


def _progress(api, repository, batch_id):
    response = api.get(f"/repositories/{repository.id}/scans/{batch_id}/progress")
    assert response.status_code == 200
    return response.json()


def test_batch_walks_through_every_status(api, tiny_repository, frozen_clock):
    batch = _start(api, tiny_repository)
    assert batch["status"] == "queued"
    assert batch["total_repositories"] == 2
    assert batch["started_at"] is None
    path = f"/repositories/{tiny_repository.id}/scans/{batch['batch_id']}"

    progress = _progress(api, tiny_repository, batch["batch_id"])
    assert progress["percent_complete"] == 0
    assert [r["status"] for r in progress["repositories"]] == ["pending", "pending"]
    assert [r["repository"] for r in progress["repositories"]] == ["acme/api", "acme/worker"]

    seen = []
    for _ in range(25):
        body = api.get(path).json()
        progress = _progress(api, tiny_repository, batch["batch_id"])
        seen.append((body["status"], progress["percent_complete"], progress))
        clock.advance(1)
    statuses = [status for status, _, _ in seen]
    assert list(dict.fromkeys(statuses)) == [
        "queued",
        "creating_scans",
        "scanning",
        "assessing",
        "completed",
    ]
    percents = [percent for _, percent, _ in seen]
    assert percents == sorted(percents), "percent_complete never goes backwards"
    assert percents[-1] == 100
    running = [p for status, _, p in seen if status == "scanning"]
    assert any(r["status"] == "running" for p in running for r in p["repositories"])
    final = seen[-1][2]
    assert [r["status"] for r in final["repositories"]] == ["succeeded", "succeeded"]
    assert [r["findings_count"] for r in final["repositories"]] == [2, 1]
    assert final["scans_completed"] == 2 and final["scans_failed"] == 0
    assert final["completed_at"] is not None

    results = api.get(f"{path}/results").json()
    assert results["status"] == "completed"
    assert results["findings_count"] == 3
    assert {f["file_path"] for f in results["findings"]} == {
        "app/settings.py",
        "app/db.py",
        "worker/main.py",
    }
    listed = api.get(
        f"/repositories/{tiny_repository.id}/findings",
        params={"scan_batch_id": batch["batch_id"]},
    ).json()
    assert listed["total"] == 3
    events = api.get("/finding-events", params={"event_type": "detected"}).json()
    assert events["total"] == 3
    assert {e["scan_id"] for e in events["items"]} == {batch["batch_id"]}


def test_results_are_empty_until_the_batch_completes(api, tiny_repository, frozen_clock):
    batch = _start(api, tiny_repository)
    clock.advance(10)
    path = f"/repositories/{tiny_repository.id}/scans/{batch['batch_id']}/results"
    assert api.get(path).json() == {
        "batch_id": batch["batch_id"],
        "scan_type": "secrets_scan",
        "status": "scanning",
        "findings_count": 0,
        "findings": [],
    }
    assert api.get("/finding-events").json()["total"] == 0


def test_deep_ai_scan_is_slower(api, tiny_repository, frozen_clock):
    quick = _start(api, tiny_repository, "secrets_scan")
    deep = _start(api, tiny_repository, "deep_ai_scan")
    clock.advance(21)
    assert _progress(api, tiny_repository, quick["batch_id"])["status"] == "completed"
    assert _progress(api, tiny_repository, deep["batch_id"])["status"] != "completed"
    clock.advance(40)
    assert _progress(api, tiny_repository, deep["batch_id"])["status"] == "completed"


def test_time_scale_setting_speeds_the_pace(api, tiny_repository, frozen_clock, settings):
    settings.SANDBOX_TIME_SCALE = 0.1
    batch = _start(api, tiny_repository)
    clock.advance(2.1)
    assert _progress(api, tiny_repository, batch["batch_id"])["status"] == "completed"


def test_a_failing_source_repo_gives_partial_failure(api, tiny_repository, frozen_clock):
    worker = SourceRepo.objects.get(full_name="acme/worker")
    source_repo_fail_scans_set(source_repo=worker, fails=True)
    batch = _start(api, tiny_repository)
    clock.advance(25)
    progress = _progress(api, tiny_repository, batch["batch_id"])
    assert progress["status"] == "partial_failure"
    assert progress["scans_failed"] == 1 and progress["scans_completed"] == 1
    failed = progress["repositories"][1]
    assert failed["status"] == "failed" and failed["status_reason"]
    assert progress["error_message"]
    results = api.get(
        f"/repositories/{tiny_repository.id}/scans/{batch['batch_id']}/results"
    ).json()
    assert {f["file_path"] for f in results["findings"]} == {"app/settings.py", "app/db.py"}


def test_every_source_repo_failing_fails_the_batch(api, tiny_repository, frozen_clock):
    for source in SourceRepo.objects.all():
        source_repo_fail_scans_set(source_repo=source, fails=True)
    batch = _start(api, tiny_repository)
    clock.advance(15)
    progress = _progress(api, tiny_repository, batch["batch_id"])
    assert progress["status"] == "failed"
    assert progress["percent_complete"] == 100
    assert progress["scans_failed"] == 2


def test_list_scans_filters_by_type_and_status(api, tiny_repository, frozen_clock):
    first = _start(api, tiny_repository, "secrets_scan")
    clock.advance(30)
    second = _start(api, tiny_repository, "semgrep_scan")
    base = f"/repositories/{tiny_repository.id}/scans"
    listed = api.get(base).json()
    assert [b["batch_id"] for b in listed["items"]] == [second["batch_id"], first["batch_id"]]
    completed = api.get(base, params={"status": "completed"}).json()
    assert [b["batch_id"] for b in completed["items"]] == [first["batch_id"]]
    semgrep = api.get(base, params={"scan_type": "semgrep_scan"}).json()
    assert semgrep["total"] == 1 and semgrep["items"][0]["status"] == "queued"


def test_rescan_deduplicates_by_fingerprint(api, tiny_repository, frozen_clock):
    repository_id = tiny_repository.id
    first = _start(api, tiny_repository)
    clock.advance(30)
    findings = api.get(f"/repositories/{repository_id}/findings").json()["items"]
    by_path = {f["file_path"]: f for f in findings}
    assert len(by_path) == 3

    # The settings password is fixed, a new one appears, the db one moves down a line.
    source = SourceRepo.objects.get(full_name="acme/api")
    files = source_tree(source_repo=source)
    files["app/settings.py"] = 'import os\n\nDEBUG = False\npassword = os.environ["P"]\n'
    files["app/db.py"] = '# db access\ndef connect():\n    password = "s3cret"\n    return 1\n'
    files["app/cache.py"] = 'password = "cache-pass"\n'
    source_tree_write(source_repo=source, files=files)

    second = _start(api, tiny_repository)
    clock.advance(30)
    after = {
        f["file_path"]: f
        for f in api.get(f"/repositories/{repository_id}/findings", params={"limit": 200}).json()[
            "items"
        ]
    }
    kept = after["app/db.py"]
    assert kept["id"] == by_path["app/db.py"]["id"]
    assert kept["status"] == "open"
    assert kept["last_detected_at"] > by_path["app/db.py"]["last_detected_at"]
    assert kept["first_detected_at"] == by_path["app/db.py"]["first_detected_at"]
    assert after["app/settings.py"]["status"] == "resolved"
    assert after["app/settings.py"]["resolved_at"] is not None
    assert after["app/cache.py"]["status"] == "open"
    assert after["worker/main.py"]["id"] == by_path["worker/main.py"]["id"]
    assert len(after) == 4

    events = api.get("/finding-events", params={"limit": 200}).json()["items"]
    second_events = [e for e in events if e["scan_id"] == second["batch_id"]]
    assert sorted(e["event_type"] for e in second_events) == ["detected", "resolved_auto"]
    assert all(e["scan_id"] in (first["batch_id"], second["batch_id"]) for e in events)
    results = api.get(f"/repositories/{repository_id}/scans/{second['batch_id']}/results").json()
    assert results["findings_count"] == 3

    # Reading again writes nothing twice.
    assert api.get("/finding-events", params={"limit": 200}).json()["total"] == len(events)
