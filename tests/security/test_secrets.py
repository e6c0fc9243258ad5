"""The plaintext of every Kolega API key a journey used appears nowhere it could leak from: no
database table, no log record, nothing written to stdout/stderr, no page, no error report."""

import base64
import logging

import pytest
from django.contrib.sessions.models import Session
from django.core import mail
from django.db import connection as db
from django.test import Client
from django.urls import reverse

from tests.conftest import SANDBOX_BASE_URL
from triage.models import Finding, Fix, KolegaConnection, Repository, Role, ScanBatch

TREES = {
    "acme/payments-api": {
        "app/db.py": 'def connect():\n    password = "s3cret"\n    return password\n',
        "app/views.py": "import os\nos.system(input())\n",
    },
}
# A key Kolega never issued: refused, but typed into the form all the same.
REJECTED_KEY = "kcp_test_RejectedKeyNeverIssued0123456789abcdef"


@pytest.fixture
def keys(db, sandbox_clock):
    from sandbox.services.organizations import api_key_create, organization_create
    from sandbox.services.repositories import repository_create

    organization, key = organization_create(name="Acme Secrets")
    _, second_key = api_key_create(organization=organization, name="Second key")
    for full_name, files in TREES.items():
        repository_create(
            organization=organization,
            name=full_name.split("/", 1)[1],
            source_trees={full_name: files},
        )
    return {"first": key, "second": second_key, "rejected": REJECTED_KEY}


class Recorder:
    """Every answer a journey fetched, with the URL, for the leak check."""

    def __init__(self):
        self.pages: list[tuple[str, str]] = []

    def keep(self, url: str, response) -> None:
        if getattr(response, "streaming", False):
            body = b"".join(response.streaming_content)
        else:
            body = response.content
        headers = "\n".join(f"{k}: {v}" for k, v in response.items())
        self.pages.append((url, headers + "\n" + body.decode(errors="replace")))

    def get(self, client, url, **kwargs):
        response = client.get(url, **kwargs)
        self.keep(url, response)
        return response

    def post(self, client, url, data, **kwargs):
        response = client.post(url, data, **kwargs)
        self.keep(url, response)
        return response


def _database_text() -> list[tuple[str, str]]:
    """Every row of every table, as text (PostgreSQL: the whole row cast to text)."""
    rows = []
    with db.cursor() as cursor:
        for table in db.introspection.table_names(cursor):
            quoted = db.ops.quote_name(table)
            if db.vendor == "postgresql":
                cursor.execute(f"SELECT t::text FROM {quoted} AS t")
            else:
                cursor.execute(f"SELECT * FROM {quoted}")
            rows.extend((table, " ".join(map(str, row))) for row in cursor.fetchall())
    # Sessions are stored encoded: read them decoded too.
    rows.extend(("django_session (decoded)", repr(s.get_decoded())) for s in Session.objects.all())
    return rows


def _forms(*values: str) -> list[str]:
    """A key as it could be written: plain, and base64 (as in a Basic header or a session)."""
    found = []
    for value in values:
        found += [value, base64.b64encode(value.encode()).decode().rstrip("=")]
    return found


def _leaks(keys: dict[str, str], where: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [
        (label, which)
        for label, text in where
        for which, key in keys.items()
        for form in _forms(key)
        if form in text
    ]


def _track_to_the_end(step, **row) -> None:
    """Take tracking ``step``s of the row until it says the work is over (five at the most)."""
    for _ in range(5):
        if step(**row):
            break


def _journey(*, team, admin, triager, keys, recorder, sandbox_clock):
    from triage.services.findings import finding_status_job_run
    from triage.sync import fix_track_step, scan_batch_track_step, sync_connection_full

    slug = team.slug
    admin_client, triager_client = Client(), Client()
    admin_client.force_login(admin)
    triager_client.force_login(triager)

    connections_url = reverse("settings-connections", kwargs={"team_slug": slug})
    recorder.get(admin_client, connections_url)
    refused = recorder.post(
        admin_client,
        connections_url,
        {"name": "Wrong", "base_url": SANDBOX_BASE_URL, "api_key": keys["rejected"]},
    )
    assert refused.status_code == 400
    created = recorder.post(
        admin_client,
        connections_url,
        {"name": "Acme", "base_url": SANDBOX_BASE_URL, "api_key": keys["first"]},
    )
    assert created.status_code == 302, created.content[:2000]
    recorder.get(admin_client, created["Location"])
    connection = KolegaConnection.objects.get(team=team, name="Acme")

    # Rotate to the second key (as an operator would in the admin) and check it in the UI.
    connection.api_key = keys["second"]
    connection.save()
    recorder.post(
        admin_client,
        reverse("settings-connection", kwargs={"team_slug": slug, "connection_id": connection.pk}),
        {"action": "verify"},
    )
    sync_connection_full(connection=KolegaConnection.objects.get(pk=connection.pk))

    scan_url = reverse("scan-new", kwargs={"team_slug": slug})
    recorder.get(triager_client, scan_url)
    recorder.get(
        triager_client,
        reverse("scan-new-quota", kwargs={"team_slug": slug}),
        headers={"HX-Request": "true"},
    )
    repository = Repository.objects.filter(team=team).first()
    started = recorder.post(
        triager_client,
        scan_url,
        {"repositories": [repository.pk], "scan_types": ["semgrep_scan", "secrets_scan"]},
    )
    assert started.status_code == 302, started.content[:3000]
    sandbox_clock.advance(3600)
    for batch in ScanBatch.objects.filter(team=team):
        _track_to_the_end(scan_batch_track_step, batch=batch)
        recorder.get(
            triager_client,
            reverse("scan-batch", kwargs={"team_slug": slug, "batch_id": batch.pk}),
        )
    for name in ("dashboard", "scans", "findings", "fixes", "approvals", "reports"):
        recorder.get(triager_client, reverse(name, kwargs={"team_slug": slug}))
    recorder.get(
        triager_client,
        reverse("dashboard-quota", kwargs={"team_slug": slug}),
        headers={"HX-Request": "true"},
    )

    findings = list(Finding.objects.filter(team=team, status="open").order_by("pk"))
    assert findings, "the scans found nothing to triage"
    first = findings[0]
    finding_url = reverse("finding", kwargs={"team_slug": slug, "finding_id": first.pk})
    recorder.get(triager_client, finding_url)
    recorder.post(triager_client, finding_url, {"status": "needs_manual_review"})
    recorder.post(
        triager_client,
        finding_url,
        {"status": "open"},
        headers={"HX-Request": "true"},
    )
    bulk = recorder.post(
        triager_client,
        reverse("findings-bulk", kwargs={"team_slug": slug}),
        {"finding": [f.pk for f in findings[1:3]], "status": "ignored", "comment": "noise"},
    )
    if bulk.status_code == 302 and "/jobs/" in bulk["Location"]:
        job_id = int(bulk["Location"].rstrip("/").rsplit("/", 1)[1])
        finding_status_job_run(job_id=job_id, sleep=lambda _: None)
        recorder.get(triager_client, bulk["Location"])

    same_file = [f for f in findings if f.repository_id == first.repository_id][:1]
    fix_new = reverse("fixes-new", kwargs={"team_slug": slug})
    recorder.get(triager_client, fix_new + f"?finding={same_file[0].pk}")
    started_fix = recorder.post(
        triager_client,
        fix_new,
        {
            "finding": [f.pk for f in same_file],
            "title": "Fix it",
            "instructions": "Use parameterized queries.",
            "source_repo": repository.source_repos[0]["full_name"],
        },
    )
    assert started_fix.status_code == 302, started_fix.content[:3000]
    sandbox_clock.advance(900)
    for fix in Fix.objects.filter(team=team):
        _track_to_the_end(fix_track_step, fix=fix)
        recorder.get(
            triager_client, reverse("fixes-detail", kwargs={"team_slug": slug, "fix_id": fix.pk})
        )
    for name in ("settings-sync", "settings-audit", "settings-members"):
        recorder.get(admin_client, reverse(name, kwargs={"team_slug": slug}))
    recorder.get(admin_client, reverse("reports-export-findings", kwargs={"team_slug": slug}))
    recorder.get(admin_client, "/admin/triage/kolegaconnection/")
    return connection


@pytest.mark.slow
def test_no_key_plaintext_anywhere_after_a_journey(
    team,
    member,
    keys,
    sandbox_transport,
    sandbox_clock,
    caplog,
    capfd,
    settings,
    django_capture_on_commit_callbacks,
):
    caplog.set_level(logging.DEBUG)
    settings.ADMINS = [("Operations", "ops@example.com")]
    settings.DEBUG = False
    recorder = Recorder()
    admin = member(Role.ADMIN, username="ada-admin")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    triager = member(Role.TRIAGER, username="tim-triager")

    with django_capture_on_commit_callbacks(execute=False):
        connection = _journey(
            team=team,
            admin=admin,
            triager=triager,
            keys=keys,
            recorder=recorder,
            sandbox_clock=sandbox_clock,
        )
    assert Fix.objects.filter(team=team).exists() and ScanBatch.objects.filter(team=team).exists()
    assert len(recorder.pages) > 25

    # The key is stored, encrypted: the portal can still read it back.
    assert KolegaConnection.objects.get(pk=connection.pk).api_key.reveal() == keys["second"]

    records = [
        (
            f"log {r.name}",
            r.getMessage()
            + "\n"
            + (logging.Formatter().formatException(r.exc_info) if r.exc_info else ""),
        )
        for r in caplog.records
    ]
    assert records, "no log record was captured: the check would prove nothing"
    out, err = capfd.readouterr()
    assert not _leaks(keys, _database_text()), _leaks(keys, _database_text())
    assert not _leaks(keys, records), _leaks(keys, records)
    assert not _leaks(keys, [("stdout", out), ("stderr", err)])
    assert not _leaks(keys, recorder.pages), _leaks(keys, recorder.pages)


@pytest.mark.parametrize("where", ["connect", "verify", "admin"])
def test_an_error_report_carries_no_key(
    where, team, member, keys, sandbox_transport, settings, caplog, monkeypatch
):
    """A crash while a key is in use (in a POST, in a call's arguments) emails the admins a
    report; neither the report nor the 500 page the person sees holds the key."""
    import httpx

    settings.ADMINS = [("Operations", "ops@example.com")]
    settings.DEBUG = False
    admin = member(Role.ADMIN, username="ada-admin")
    client = Client(raise_request_exception=False)
    client.force_login(admin)
    slug = team.slug
    if where == "admin":
        admin.is_staff = admin.is_superuser = True
        admin.save()
    if where in ("verify", "admin"):
        connection = KolegaConnection.objects.create(
            team=team,
            name="Acme",
            base_url=SANDBOX_BASE_URL,
            api_key=keys["first"],
            organization_id="org",
        )

    def explode(self, request):
        raise RuntimeError("the transport broke unexpectedly")

    monkeypatch.setattr(httpx.WSGITransport, "handle_request", explode)
    mail.outbox.clear()
    if where == "admin":
        # An operator replaces the key in the admin; saving it fails unexpectedly.
        monkeypatch.setattr(KolegaConnection, "save", explode)
        response = client.post(
            reverse("admin:triage_kolegaconnection_change", args=[connection.pk]),
            {
                "team": team.pk,
                "name": "Acme",
                "base_url": SANDBOX_BASE_URL,
                "organization_id": "org",
                "scopes": '["read", "write"]',
                "state": "active",
                "new_api_key": keys["second"],
            },
        )
    elif where == "connect":
        response = client.post(
            reverse("settings-connections", kwargs={"team_slug": slug}),
            {"name": "Acme", "base_url": SANDBOX_BASE_URL, "api_key": keys["first"]},
        )
    else:
        response = client.post(
            reverse(
                "settings-connection", kwargs={"team_slug": slug, "connection_id": connection.pk}
            ),
            {"action": "verify"},
        )
    pages = [("response", response.content.decode(errors="replace"))]
    reports = [
        (f"mail {m.subject}", m.body + "".join(str(a[0]) for a in m.alternatives))
        for m in mail.outbox
    ]
    if response.status_code == 500:
        assert reports, "a server error emailed no report: the check would prove nothing"
    else:
        # The portal caught the failure itself and told the person: that is fine too.
        assert response.status_code in (200, 302, 400), response.status_code
    assert not _leaks(keys, pages), _leaks(keys, pages)
    assert not _leaks(keys, reports), _leaks(keys, reports)
    records = [(r.name, r.getMessage()) for r in caplog.records]
    assert not _leaks(keys, records), _leaks(keys, records)
