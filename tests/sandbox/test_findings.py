"""Finding status changes, the event feed's filters, and pagination."""

from datetime import timedelta

import pytest

from sandbox import clock
from sandbox.services.scale import organization_scale_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def findings(api, tiny_repository, frozen_clock):
    api.post(f"/repositories/{tiny_repository.id}/scans", json={"scan_type": "secrets_scan"})
    clock.advance(30)
    return api.get(f"/repositories/{tiny_repository.id}/findings").json()["items"]


def _patch(api, finding, status):
    return api.patch(
        f"/repositories/{finding['repository_id']}/findings/{finding['id']}",
        json={"status": status},
    )


def test_patch_changes_status_idempotently_with_events(api, findings):
    finding = findings[0]
    ignored = _patch(api, finding, "ignored")
    assert ignored.status_code == 200 and ignored.json()["status"] == "ignored"
    assert _patch(api, finding, "ignored").status_code == 200
    clock.advance(1)
    resolved = _patch(api, finding, "resolved").json()
    assert resolved["resolved_at"] is not None
    clock.advance(1)
    reopened = _patch(api, finding, "open").json()
    assert reopened["resolved_at"] is None
    events = api.get("/finding-events", params={"finding_id": finding["id"]}).json()["items"]
    assert [e["event_type"] for e in events] == [
        "reopened",
        "resolved_manual",
        "status_changed",
        "detected",
    ]
    assert [(e["previous_status"], e["new_status"]) for e in events[:3]] == [
        ("resolved", "open"),
        ("ignored", "resolved"),
        ("open", "ignored"),
    ]
    assert len({e["id"] for e in events}) == 4


def test_patch_rejects_unknown_status_and_bad_json(api, findings):
    finding = findings[0]
    unknown = _patch(api, finding, "fixed")
    assert unknown.status_code == 422
    error = unknown.json()["detail"][0]
    assert error["loc"] == ["body", "status"] and error["type"] == "enum"
    url = f"/repositories/{finding['repository_id']}/findings/{finding['id']}"
    broken = api.patch(url, content=b'{"status": ', headers={"Content-Type": "application/json"})
    assert broken.status_code == 422
    assert broken.json()["detail"][0]["type"] == "json_invalid"
    missing = api.patch(url, json={})
    assert missing.json()["detail"][0] == {
        "type": "missing",
        "loc": ["body", "status"],
        "msg": "Field required",
        "input": {},
    }


def test_findings_filters(api, findings, tiny_repository):
    base = f"/repositories/{tiny_repository.id}/findings"
    _patch(api, findings[0], "false_positive")
    assert api.get(base, params={"status": "false_positive"}).json()["total"] == 1
    assert api.get(base, params={"status": "open"}).json()["total"] == 2
    assert api.get(base, params={"severity": "high"}).json()["total"] == 3
    assert api.get(base, params={"severity": "low"}).json()["total"] == 0
    assert api.get(base, params={"scan_type": "semgrep_scan"}).json()["total"] == 0
    assert api.get(base, params={"scan_batch_id": "unknown"}).json()["total"] == 0
    detail = api.get(f"{base}/{findings[0]['id']}").json()
    assert detail["source_url"].startswith("https://github.com/acme/")
    assert detail["cwe"] == ["CWE-798"]


def test_event_feed_filters_and_time_window(api, findings, tiny_repository):
    _patch(api, findings[0], "ignored")
    feed = "/finding-events"
    everything = api.get(feed).json()
    assert everything["total"] == 4
    stamps = [e["event_timestamp"] for e in everything["items"]]
    assert stamps == sorted(stamps, reverse=True), "newest first"
    assert api.get(feed, params={"event_type": "status_changed"}).json()["total"] == 1
    assert api.get(feed, params={"severity": "high"}).json()["total"] == 4
    assert api.get(feed, params={"scan_type": "secrets_scan"}).json()["total"] == 4
    assert api.get(feed, params={"repository_id": str(tiny_repository.id)}).json()["total"] == 4
    assert api.get(feed, params={"repository_id": "other"}).json()["total"] == 0
    newest = everything["items"][0]["event_timestamp"]
    window = api.get(feed, params={"start": newest}).json()
    assert [e["event_type"] for e in window["items"]] == ["status_changed"]
    before = (clock.now() - timedelta(days=1)).isoformat()
    assert api.get(feed, params={"end": before}).json()["total"] == 0
    bad = api.get(feed, params={"start": "yesterday"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "start"]


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"limit": 0}, ["query", "limit"]),
        ({"limit": 201}, ["query", "limit"]),
        ({"limit": "ten"}, ["query", "limit"]),
        ({"skip": -1}, ["query", "skip"]),
    ],
)
def test_pagination_bounds_are_422(api, tiny_repository, params, loc):
    response = api.get(f"/repositories/{tiny_repository.id}/findings", params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc


def test_unknown_scan_type_is_422_where_the_contract_has_an_enum(api, tiny_repository):
    base = f"/repositories/{tiny_repository.id}/scans"
    assert api.get(base, params={"scan_type": "dast_scan"}).status_code == 422
    response = api.post(base, json={"scan_type": "dast_scan"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "scan_type"]


def test_pagination_over_a_large_organization(make_client, db):
    result = organization_scale_create(repositories=2, findings=450)
    api = make_client(result.api_key)
    repository_id = api.get("/repositories").json()["items"][0]["id"]
    base = f"/repositories/{repository_id}/findings"
    first = api.get(base).json()
    assert (first["total"], first["limit"], first["skip"], first["has_next"]) == (225, 50, 0, True)
    full = api.get(base, params={"limit": 200}).json()
    assert len(full["items"]) == 200 and full["has_next"] is True
    last = api.get(base, params={"limit": 200, "skip": 200}).json()
    assert len(last["items"]) == 25 and last["has_next"] is False
    ids = [f["id"] for f in full["items"]] + [f["id"] for f in last["items"]]
    assert len(set(ids)) == 225, "pages neither overlap nor skip"
    beyond = api.get(base, params={"skip": 10_000}).json()
    assert beyond["items"] == [] and beyond["has_next"] is False and beyond["total"] == 225
    events = api.get("/finding-events", params={"limit": 200}).json()
    assert events["limit"] == 200 and events["has_next"] is True
    assert events["total"] == result.events


def test_event_feed_totals_by_end_stay_exact_in_any_order(make_client, db):
    """Totals of time windows are counted from the nearest window already counted: every
    order of `end`s (a walk back, forth, repeated, filtered) gives the exact count."""
    from sandbox.models import FindingEvent

    result = organization_scale_create(repositories=2, findings=120)
    api = make_client(result.api_key)
    stamps = sorted(set(FindingEvent.objects.values_list("event_timestamp", flat=True)))
    assert len(stamps) > 20
    picked = [*stamps[::7], stamps[0], stamps[-1], stamps[0] - timedelta(seconds=1)]
    order = picked[::-1] + picked + picked[::3]
    for severity in (None, "high"):
        for end in order:
            params = {"end": end.isoformat(), **({"severity": severity} if severity else {})}
            expected = FindingEvent.objects.filter(event_timestamp__lte=end)
            if severity:
                expected = expected.filter(severity=severity)
            body = api.get("/finding-events", params=params).json()
            assert body["total"] == expected.count(), (severity, end)
    # A new event: the counts kept so far no longer hold.
    repository_id = api.get("/repositories").json()["items"][0]["id"]
    finding = api.get(f"/repositories/{repository_id}/findings").json()["items"][0]
    new_status = "ignored" if finding["status"] != "ignored" else "open"
    changed = api.patch(
        f"/repositories/{repository_id}/findings/{finding['id']}", json={"status": new_status}
    )
    assert changed.status_code == 200
    assert api.get("/finding-events").json()["total"] == FindingEvent.objects.count()
    far = (clock.now() + timedelta(days=3650)).isoformat()
    assert api.get("/finding-events", params={"end": far}).json()["total"] == (
        FindingEvent.objects.count()
    )


@pytest.mark.django_db(transaction=True)
def test_status_changes_of_two_findings_of_one_repository_do_not_wait_for_each_other(
    api, findings, tiny_repository
):
    """A status change locks its finding, not the source repository it came from: while one
    change is still in its transaction, another finding of the same repository changes at
    once (bulk jobs change many findings of one repository side by side)."""
    import threading

    from django.db import connection, transaction

    from sandbox.models import Finding
    from sandbox.services.findings import finding_status_set

    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's")
    # Two findings of one source repository (the repository's files come from two).
    by_source = {}
    for finding in Finding.objects.filter(id__in=[item["id"] for item in findings]):
        by_source.setdefault(finding.source_repo_id, []).append(str(finding.id))
    first, second = next(ids for ids in by_source.values() if len(ids) > 1)[:2]
    holding, release, failed = threading.Event(), threading.Event(), []

    def hold_first():
        try:
            with transaction.atomic():
                finding_status_set(repository=tiny_repository, finding_id=first, status="ignored")
                holding.set()
                release.wait(10)
        except Exception as error:  # reported to the test below
            failed.append(error)
            holding.set()
        finally:
            connection.close()

    thread = threading.Thread(target=hold_first)
    thread.start()
    try:
        assert holding.wait(10) and not failed
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            changed = finding_status_set(
                repository=tiny_repository, finding_id=second, status="ignored"
            )
        assert changed.status == "ignored"
    finally:
        release.set()
        thread.join(10)
    assert not failed
