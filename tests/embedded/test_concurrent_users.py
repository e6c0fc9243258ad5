"""Several people at once on the embedded default: no server error, and no write lost.

Threads act for a bounded time as the vendor's CLI (reads and writes on the sandbox's Kolega
API) and as portal users (bulk status changes, "Sync now") while the portal's own worker syncs
and runs the bulk jobs, all on one SQLite file. Every request must answer below 500, and every
write that answered 2xx (or the portal's redirect after a POST) must be found afterwards.
"""

import re
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest

from tests.embedded.conftest import server_errors_in

pytestmark = pytest.mark.slow

SECONDS = 25
STATUSES = ("needs_manual_review", "open")


@dataclass
class Ledger:
    """What every thread asked and what it was answered, shared under one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: Counter = field(default_factory=Counter)
    server_errors: list = field(default_factory=list)
    finding_status: dict = field(default_factory=dict)  # (repo, finding) -> last 2xx status
    scans: list = field(default_factory=list)  # (repo, scan id)
    fixes_cancelled: list = field(default_factory=list)  # (repo, fix id)
    fixes: list = field(default_factory=list)
    jobs: list = field(default_factory=list)  # portal bulk job ids
    sync_runs: list = field(default_factory=list)  # portal sync run ids
    crashes: list = field(default_factory=list)  # exceptions raised in a thread

    def answered(self, kind: str, response, write: bool) -> bool:
        with self.lock:
            self.requests["write" if write else "read"] += 1
            self.requests[kind] += 1
            if response.status_code >= 500:
                self.server_errors.append((kind, response.status_code, response.text[:300]))
        return 200 <= response.status_code < 300


def _until(deadline: float):
    while time.monotonic() < deadline:
        yield


def cli_reader(portal, ledger, deadline, repositories):
    with portal.api() as api:
        for n in zip(_until(deadline), range(10_000), strict=False):
            repository = repositories[n[1] % len(repositories)]
            for kind, path in (
                ("events", "/finding-events?limit=50"),
                ("findings", f"/repositories/{repository}/findings?limit=50"),
                ("scans", f"/repositories/{repository}/scans"),
                ("fixes", f"/repositories/{repository}/fixes"),
            ):
                ledger.answered(kind, api.get(path), write=False)


def cli_triager(portal, ledger, deadline, findings):
    """PATCHes statuses of the findings this thread alone owns."""
    with portal.api() as api:
        for n in zip(_until(deadline), range(10_000), strict=False):
            repository, finding = findings[n[1] % len(findings)]
            status = STATUSES[n[1] % 2]
            answer = api.patch(
                f"/repositories/{repository}/findings/{finding}", json={"status": status}
            )
            if ledger.answered("patch", answer, write=True):
                with ledger.lock:
                    ledger.finding_status[(repository, finding)] = status


def cli_scans_and_fixes(portal, ledger, deadline, repositories, fixable, source_repos):
    with portal.api() as api:
        for n in zip(_until(deadline), range(10_000), strict=False):
            repository = repositories[n[1] % len(repositories)]
            answer = api.post(
                f"/repositories/{repository}/scans", json={"scan_type": "secrets_scan"}
            )
            if ledger.answered("start scan", answer, write=True):
                with ledger.lock:
                    ledger.scans.append((repository, answer.json()["batch_id"]))
            repository, finding = fixable[n[1] % len(fixable)]
            answer = api.post(
                f"/repositories/{repository}/fixes",
                json={
                    "finding_ids": [finding],
                    "title": "Fix it",
                    "instructions": "Keep the change small",
                    "source_repo": source_repos[repository],
                },
            )
            if not ledger.answered("start fix", answer, write=True):
                continue
            fix = answer.json()["id"]
            with ledger.lock:
                ledger.fixes.append((repository, fix))
            base = f"/repositories/{repository}/fixes/{fix}"
            refine = api.post(f"{base}/refine", json={"instructions": "Also add a test"})
            ledger.answered("refine", refine, write=True)
            if ledger.answered("cancel", api.post(f"{base}/cancel"), write=True):
                with ledger.lock:
                    ledger.fixes_cancelled.append((repository, fix))


def _write(browser, ledger, label, url, data, *, made: list[int], location: str) -> None:
    """POST ``data`` (with the CSRF token) and note the answer in the ledger; the id of what
    it made, read from a redirect to ``location``, goes to ``made``."""
    answer = browser.post(url, data={**data, "csrfmiddlewaretoken": browser.cookies["csrftoken"]})
    ledger.answered(label, answer, write=True)
    match = re.search(location, answer.headers.get("location", ""))
    if answer.status_code == 302 and match:
        with ledger.lock:
            made.append(int(match[1]))


def portal_triager(portal, ledger, deadline, finding_ids):
    with portal.signed_in("demo-triager") as browser:
        for n in zip(_until(deadline), range(10_000), strict=False):
            ledger.answered("findings page", browser.get("/t/demo/findings/"), write=False)
            _write(
                browser,
                ledger,
                "bulk change",
                "/t/demo/findings/bulk/",
                {
                    "finding": finding_ids[n[1] % len(finding_ids) :][:3] or finding_ids[:3],
                    "status": STATUSES[n[1] % 2],
                    "comment": "concurrency",
                },
                made=ledger.jobs,
                location=r"/findings/jobs/(\d+)/",
            )


def portal_admin(portal, ledger, deadline, connection_id):
    with portal.signed_in("demo-admin") as browser:
        for _ in _until(deadline):
            _write(
                browser,
                ledger,
                "sync now",
                "/t/demo/settings/sync/",
                {"connection": connection_id, "kind": "incremental"},
                made=ledger.sync_runs,
                location=r"/settings/sync/(\d+)/",
            )
            ledger.answered("sync page", browser.get("/t/demo/settings/sync/"), write=False)
            time.sleep(1)


def _mirror_ready(portal) -> str:
    """Waits for the sync on connect, then returns the connection's id."""
    with portal.signed_in("demo-admin") as browser:
        for _ in range(120):
            page = browser.get("/t/demo/findings/?status=open").text
            ids = re.findall(r'name="finding" value="(\d+)"', page)
            if len(ids) >= 12:
                with sqlite3.connect(portal.database) as db:
                    (connection,) = db.execute("SELECT id FROM triage_kolegaconnection").fetchone()
                return str(connection)
            time.sleep(1)
    raise AssertionError("the demo team's mirror was not synced within two minutes")


def test_several_people_at_once_get_no_server_error_and_lose_no_write(embedded_portal):
    portal = embedded_portal
    connection_id = _mirror_ready(portal)
    with portal.api() as api:
        listed = api.get("/repositories").json()["items"]
        repositories = [r["id"] for r in listed]
        source_repos = {r["id"]: r["repositories"][0]["full_name"] for r in listed}
        upstream = [
            (repository, f["id"])
            for repository in repositories
            for f in api.get(f"/repositories/{repository}/findings?limit=20").json()["items"]
        ]
    # The CLI triagers, the fix starter and the portal's bulk changes each work on findings of
    # their own, so the last successful write to each finding is known.
    owned = [upstream[i::4] for i in range(3)]
    portal_owned = {finding for _, finding in upstream[3::4]}
    with sqlite3.connect(portal.database) as db:
        mirror = dict(db.execute("SELECT upstream_id, id FROM triage_finding"))
    portal_ids = [str(mirror[f]) for f in portal_owned if f in mirror]
    assert len(portal_ids) >= 3

    ledger = Ledger()
    deadline = time.monotonic() + SECONDS
    workers = [
        (cli_reader, (repositories,)),
        (cli_triager, (owned[0],)),
        (cli_triager, (owned[1],)),
        (cli_scans_and_fixes, (repositories, owned[2], source_repos)),
        (portal_triager, (portal_ids,)),
        (portal_admin, (connection_id,)),
    ]

    def run(target, *args):
        try:
            target(portal, ledger, deadline, *args)
        except Exception as exc:  # reported below: a crashed thread fails the test
            with ledger.lock:
                ledger.crashes.append(f"{target.__name__}: {exc!r}")

    threads = [threading.Thread(target=run, args=(target, *args)) for target, args in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SECONDS + 120)
    assert not any(thread.is_alive() for thread in threads)

    print(f"concurrency: {dict(ledger.requests)}")  # the closing note quotes these counts
    assert ledger.crashes == []
    assert ledger.server_errors == []
    assert server_errors_in(portal.logs / "web.log") == []
    assert ledger.requests["write"] >= 30 and ledger.requests["read"] >= 30

    with portal.api() as api:
        for (repository, finding), status in ledger.finding_status.items():
            found = api.get(f"/repositories/{repository}/findings/{finding}").json()
            assert found["status"] == status, (finding, found["status"], status)
        for repository, scan in ledger.scans:
            assert api.get(f"/repositories/{repository}/scans/{scan}").status_code == 200
        for repository, fix in ledger.fixes:
            assert api.get(f"/repositories/{repository}/fixes/{fix}").status_code == 200
        for repository, fix in ledger.fixes_cancelled:
            fix_status = api.get(f"/repositories/{repository}/fixes/{fix}").json()["status"]
            assert fix_status == "cancelled", (fix, fix_status)
    with sqlite3.connect(portal.database) as db:
        stored = {row[0] for row in db.execute("SELECT id FROM triage_findingstatusjob")}
        runs = {row[0] for row in db.execute("SELECT id FROM triage_syncrun")}
    assert ledger.jobs and set(ledger.jobs) <= stored
    assert ledger.sync_runs and set(ledger.sync_runs) <= runs
