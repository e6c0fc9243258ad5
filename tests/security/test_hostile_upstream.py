"""Hostile data from Kolega: HTML in finding titles, messages and file paths, and a diff with
<script> in it, come through the real sync and are rendered inert everywhere they show."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import SANDBOX_BASE_URL
from tests.fixes_started import fix_started
from triage.models import Finding, Fix, KolegaConnection, Repository, Role, ScanBatch

EVIL_PATH = "app/<img src=x onerror=alert(1003)>.py"
EVIL_TITLE = "<script>alert(1001)</script>"
EVIL_MESSAGE = '"><img src=x onerror=alert(1002)> and </td></tr><script>alert(1007)</script>'
EVIL_SOURCE = 'password = "correct-horse-battery"\n# <script>alert(1005)</script>\n'
# Raw markup that must never reach a page as markup; each alert's number must, escaped.
RAW = [
    "<script>alert(1001)",
    "<img src=x onerror=alert(1002)>",
    "<img src=x onerror=alert(1003)>",
    "<script>alert(1004)",
    "<script>alert(1005)",
    "<script>alert(1006)",
    "<script>alert(1007)",
]


def _evil_diff(path: str) -> str:
    return (
        f"diff --git a/{path} b/{path}\n"
        f"--- a/{path}\n"
        f"+++ b/{path}\n"
        "@@ -1,2 +1,2 @@\n"
        '-password = "correct-horse-battery"\n'
        '+password = os.environ["PASSWORD"]  # <script>alert(1006)</script>\n'
        " # <script>alert(1005)</script>\n"
        "diff --git a/docs/<script>alert(1004)</script>.md b/docs/<script>alert(1004)</script>.md\n"
        "--- a/docs/<script>alert(1004)</script>.md\n"
        "+++ b/docs/<script>alert(1004)</script>.md\n"
        "@@ -1 +1 @@\n"
        "-old\n"
        "+</pre><script>alert(1006)</script>\n"
    )


def _assert_inert(response, *, where: str, must_show: list[str]):
    assert response.status_code in (200, 286), (where, response.status_code)
    body = response.content.decode()
    raw = [marker for marker in RAW if marker in body]
    assert not raw, f"{where} renders hostile markup raw: {raw}"
    missing = [marker for marker in must_show if marker not in body]
    assert not missing, f"{where} does not show {missing} at all: the check would prove nothing"


@pytest.mark.slow
def test_hostile_upstream_data_is_rendered_inert(
    team, member, sandbox_transport, sandbox_clock, django_capture_on_commit_callbacks
):
    from sandbox.materialize import fix_materialize
    from sandbox.models import Finding as UpstreamFinding
    from sandbox.models import Fix as UpstreamFix
    from sandbox.services.organizations import organization_create
    from sandbox.services.repositories import repository_create
    from triage.services.connections import connection_create
    from triage.services.scans import scan_batches_start
    from triage.sync import fix_track_step, scan_batch_track_step, sync_connection_full

    organization, key = organization_create(name="Evil Upstream")
    repository_create(
        organization=organization,
        name="payments",
        source_trees={"acme/payments": {EVIL_PATH: EVIL_SOURCE}},
    )
    admin = member(Role.ADMIN, username="admin-evil")
    created = connection_create(
        team=team, actor=admin, name="Evil", base_url=SANDBOX_BASE_URL, api_key=key
    )
    connection = KolegaConnection.objects.get(pk=created.pk)
    sync_connection_full(connection=connection)
    with django_capture_on_commit_callbacks(execute=False):
        outcomes = scan_batches_start(
            team=team,
            actor=admin,
            repository_ids=list(Repository.objects.filter(team=team).values_list("pk", flat=True)),
            scan_types=["secrets_scan", "semgrep_scan"],
        )
    assert outcomes and all(o.started for o in outcomes), [o.error for o in outcomes]
    sandbox_clock.advance(3600)
    for batch in ScanBatch.objects.filter(team=team):
        for _ in range(5):
            if scan_batch_track_step(batch=batch):
                break
    assert all(b.status == "completed" for b in ScanBatch.objects.filter(team=team)), [
        (b.status, b.error_message) for b in ScanBatch.objects.filter(team=team)
    ]
    # Kolega's own words become hostile: titles and messages carrying markup.
    assert UpstreamFinding.objects.filter(organization=organization).exists()
    UpstreamFinding.objects.filter(organization=organization).update(
        title=EVIL_TITLE, message=EVIL_MESSAGE, updated_at=sandbox_clock.now()
    )
    sync_connection_full(connection=connection)
    finding = Finding.objects.filter(team=team, file_path=EVIL_PATH).first()
    assert finding is not None, list(Finding.objects.values_list("file_path", flat=True))
    assert finding.title == EVIL_TITLE and finding.message == EVIL_MESSAGE

    with django_capture_on_commit_callbacks(execute=False):
        fix = fix_started(
            admin,
            [finding],
            title="Fix <script>alert(1001)</script>",
            instructions="Read the password from the environment.",
            source_repo="acme/payments",
        )
    sandbox_clock.advance(1800)
    upstream_fix = fix_materialize(fix_id=UpstreamFix.objects.get(id=fix.upstream_id).pk)
    UpstreamFix.objects.filter(pk=upstream_fix.pk).update(
        final_status="completed", diff=_evil_diff(EVIL_PATH), error_message=None
    )
    for _ in range(5):
        if fix_track_step(fix=fix):
            break
    fix = Fix.objects.get(pk=fix.pk)
    assert fix.diff and "alert(1006)" in fix.diff, fix.status

    client = Client()
    client.force_login(admin)
    slug = team.slug
    findings_url = reverse("findings", kwargs={"team_slug": slug})
    pages = [
        (findings_url, {}, ["alert(1001)", "alert(1003)"]),
        (findings_url, {"HX-Request": "true"}, ["alert(1001)", "alert(1003)"]),
        (
            reverse("finding", kwargs={"team_slug": slug, "finding_id": finding.pk}),
            {},
            ["alert(1001)", "alert(1002)", "alert(1003)", "alert(1007)"],
        ),
        (reverse("dashboard", kwargs={"team_slug": slug}), {}, []),
        (reverse("fixes", kwargs={"team_slug": slug}), {}, ["alert(1001)"]),
        (
            reverse("fixes-detail", kwargs={"team_slug": slug, "fix_id": fix.pk}),
            {},
            ["alert(1001)"],
        ),
        (
            reverse("fixes-file", kwargs={"team_slug": slug, "fix_id": fix.pk, "file_index": 0}),
            {"HX-Request": "true"},
            ["alert(1006)"],
        ),
        (
            reverse("fixes-file", kwargs={"team_slug": slug, "fix_id": fix.pk, "file_index": 1}),
            {"HX-Request": "true"},
            ["alert(1006)"],
        ),
        (
            reverse("fixes-compare", kwargs={"team_slug": slug, "fix_id": fix.pk}),
            {},
            [],
        ),
    ]
    for url, headers, must_show in pages:
        _assert_inert(client.get(url, headers=headers), where=url, must_show=must_show)
