"""Links from Kolega's data become links only when they are http(s) URLs: a `javascript:` or
`data:` value shows as text on every page that shows it."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from triage.models import Finding, PullRequest, Repository, Role
from triage.services.audit import audit_log
from triage.services.teams import SYSTEM
from triage.sync import sync_connection_full
from triage.weblinks import web_url

pytestmark = pytest.mark.django_db

HOSTILE = [
    "javascript:alert(document.domain)",
    "JavaScript:alert(1)",
    " javascript:alert(2)",
    "java\tscript:alert(3)",
    "data:text/html,<script>alert(4)</script>",
    "vbscript:msgbox(5)",
    "//evil.example/x",
    "https:alert(6)",
]
SAFE = "https://owasp.org/www-community/attacks/SQL_Injection"


def _hrefs(body: str) -> list[str]:
    # The layout's own empty favicon (`data:,`) is the portal's, not Kolega's.
    return [href for href in re.findall(r'href="([^"]*)"', body) if href != "data:,"]


@pytest.mark.parametrize("value", HOSTILE)
def test_only_web_urls_pass(value):
    assert web_url(value) is None


def test_web_urls_pass():
    assert web_url(SAFE) == SAFE
    assert web_url("http://127.0.0.1:8000/sandbox/x") == "http://127.0.0.1:8000/sandbox/x"


def test_hostile_links_from_the_sandbox_and_the_mirror_render_as_text(
    connection, demo_org, member, client_as
):
    from sandbox.models import Finding as UpstreamFinding

    organization, _ = demo_org
    upstream = UpstreamFinding.objects.filter(repository__organization=organization).first()
    # Kolega's `references` are free text: the sandbox answers them as its row holds them.
    UpstreamFinding.objects.filter(pk=upstream.pk).update(references=[*HOSTILE, SAFE])
    run = sync_connection_full(connection=connection)
    assert run.status == "succeeded", run.error
    finding = Finding.objects.get(connection=connection, upstream_id=str(upstream.id))
    assert finding.references == [*HOSTILE, SAFE]
    # The sandbox builds source_url, html_url and pr_url itself; the mirror rows stand in
    # for an upstream that answers them otherwise.
    Finding.objects.filter(pk=finding.pk).update(source_url="javascript:alert(7)")
    repository = Repository.objects.get(pk=finding.repository_id)
    repository.source_repos = [
        {**repo, "html_url": "javascript:alert(8)"} for repo in repository.source_repos
    ]
    repository.save(update_fields=["source_repos"])
    from tests.triage.fixes.factories import FixFactory

    fix = FixFactory(
        repository=repository,
        team=finding.team,
        connection=connection,
        finding_ids=[finding.upstream_id],
    )
    PullRequest.objects.create(
        team=fix.team,
        connection=connection,
        upstream_id="acme/app#9",
        synced_at=timezone.now(),
        fix=fix,
        repo_full_name="acme/app",
        branch_name="kolega/x",
        pr_number=9,
        pr_url="data:text/html,<script>alert(9)</script>",
        merge_status="open",
        created_at=timezone.now(),
    )
    audit_log(
        team=fix.team,
        actor=SYSTEM,
        action="pull_requests.opened",
        target=fix,
        details={"pull_requests": ["javascript:alert(10)"]},
    )
    client = client_as(member(Role.VIEWER))
    slug = finding.team.slug
    pages = {
        "finding": reverse("finding", kwargs={"team_slug": slug, "finding_id": finding.pk}),
        "fix": reverse("fixes-detail", kwargs={"team_slug": slug, "fix_id": fix.pk}),
        "fixes": reverse("fixes", kwargs={"team_slug": slug}),
        "dashboard": reverse("dashboard", kwargs={"team_slug": slug}),
    }
    bodies = {}
    for name, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, name
        bodies[name] = response.content.decode()
        for href in _hrefs(bodies[name]):
            assert not re.match(r"\s*(javascript|data|vbscript):", href, re.I), (name, href)
    finding_page = bodies["finding"]
    assert "javascript:alert(document.domain)" in finding_page  # shown, as text
    assert f'href="{SAFE}"' in finding_page  # a web URL stays a link
    assert "javascript:alert(7)" in finding_page
    assert "acme/app#9" in bodies["fix"] and "acme/app#9" in bodies["dashboard"]
    assert "#9" in bodies["fixes"]
    assert "javascript:alert(10)" in bodies["fix"]
