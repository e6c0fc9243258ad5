"""A finding's page: the timeline says who changed what and why, the fixes and pull requests
that cover the finding are linked, the line and a link to the code, and "Start a fix"."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    FindingEventFactory,
    FindingFactory,
    FixFactory,
    PullRequestFactory,
    RepositoryFactory,
)
from tests.triage.findings.status_jobs import status_job_queued, status_job_ran
from triage.models import Finding, FindingEvent, Role, TeamApprovalPolicy
from triage.selectors.finding_page import code_location, finding_timeline
from triage.services.dismissals import dismissal_decide, dismissal_request_create
from triage.sync import sync_connection_incremental

pytestmark = pytest.mark.django_db


def _url(finding) -> str:
    return reverse("finding", kwargs={"team_slug": finding.team.slug, "finding_id": finding.pk})


def _timeline_html(response) -> str:
    body = response.content.decode()
    start = body.index('id="timeline"')
    return body[start : body.index("</section>", start)]


def _entries(response) -> list[str]:
    """Each timeline entry's text, tags removed, newest first."""
    items = re.findall(r'<li class="timeline-entry".*?</li>', _timeline_html(response), re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", item).split()) for item in items]


def test_a_status_change_shows_who_made_it_and_why_once_even_after_kolega_reports_it(
    synced, member, client_as
):
    finding = Finding.objects.filter(connection=synced, status="open").order_by("pk").first()
    tess = member(Role.TRIAGER, username="tess")
    client = client_as(tess)

    response = client.post(
        _url(finding), {"status": "resolved", "comment": "Input is now parameterised"}
    )
    assert response.status_code == 302

    entries = _entries(client.get(_url(finding)))
    changes = [e for e in entries if e.startswith("Status changed")]
    assert len(changes) == 1
    assert "Open → Resolved" in changes[0]
    assert "by tess" in changes[0] and "Input is now parameterised" in changes[0]

    # Kolega records the same change in its event feed; the page tells it once.
    run = sync_connection_incremental(connection=synced)
    assert run.status == "succeeded", run.error
    assert FindingEvent.objects.filter(
        connection=synced,
        finding_upstream_id=finding.upstream_id,
        event_type="resolved_manual",
        previous_status="open",
        new_status="resolved",
    ).exists()
    entries = _entries(client.get(_url(finding)))
    assert not [e for e in entries if e.startswith("Resolved (manual)")]
    assert len([e for e in entries if "Open → Resolved" in e]) == 1


def test_a_bulk_change_shows_its_comment_and_links_its_job(
    synced, member, client_as, client_factory, django_capture_on_commit_callbacks
):
    finding = Finding.objects.filter(connection=synced, status="open").order_by("pk").first()
    tess = member(Role.TRIAGER, username="tess")
    job = status_job_queued(
        synced.team,
        tess,
        [finding],
        "needs_manual_review",
        django_capture_on_commit_callbacks,
        comment="Looks reachable from the public API",
    )
    status_job_ran(job, client_factory)

    response = client_as(member(Role.VIEWER)).get(_url(finding))
    (change,) = [e for e in _entries(response) if e.startswith("Status changed")]
    assert "Open → Needs manual review" in change
    assert "by tess" in change and "Looks reachable from the public API" in change
    assert "needs_manual_review" not in " ".join(_entries(response))
    assert f'href="/t/{synced.team.slug}/findings/jobs/{job.pk}/"' in _timeline_html(response)


def test_dismissal_requests_and_decisions_show_their_people_and_words_newest_first(
    team, member, client_as
):
    TeamApprovalPolicy.objects.create(team=team, dismissals_require_approval=True)
    finding = FindingFactory(repository=RepositoryFactory(team=team))
    tina = member(Role.TRIAGER, username="tina")
    alex = member(Role.APPROVER, username="alex")
    request = dismissal_request_create(
        team=team,
        actor=tina,
        finding_ids=[finding.pk],
        status="false_positive",
        reason="The value is a test fixture",
    )
    dismissal_decide(request=request, actor=alex, approve=False, comment="It ships in the image")

    response = client_as(member(Role.VIEWER)).get(_url(finding))
    entries = _entries(response)
    assert entries[0].startswith("Dismissal rejected To False positive")
    assert "by alex" in entries[0] and "It ships in the image" in entries[0]
    assert entries[1].startswith("Dismissal requested To False positive")
    assert "by tina" in entries[1] and "The value is a test fixture" in entries[1]
    assert f"request #{request.pk}" in entries[0]
    assert "false_positive" not in " ".join(entries)


def test_fixes_and_pull_requests_covering_the_finding_are_in_the_timeline_and_linked(
    team, member, client_as
):
    finding = FindingFactory(repository=RepositoryFactory(team=team))
    now = timezone.now()
    fix = FixFactory(
        repository=finding.repository,
        finding_ids=[finding.upstream_id],
        title="Parameterise the orders query",
        created_at=now - timedelta(hours=3),
    )
    PullRequestFactory(
        fix=fix, created_at=now - timedelta(hours=2), merged_at=now - timedelta(hours=1)
    )
    PullRequestFactory(fix=fix, pr_url="javascript:alert(1)", created_at=now - timedelta(hours=2))
    FixFactory(repository=finding.repository, finding_ids=["another-finding"], title="Unrelated")
    FindingEventFactory(
        finding=finding,
        event_type="fix_completed",
        metadata={"fix_id": fix.upstream_id},
        event_timestamp=now - timedelta(hours=2, minutes=30),
    )

    response = client_as(member(Role.VIEWER)).get(_url(finding))
    body = response.content.decode()
    entries = _entries(response)
    whats = [" ".join(e.split()[:3]) for e in entries]
    assert whats == [
        "Pull request merged",
        "Pull request opened",
        "Pull request opened",
        "Fix completed by",
        "Fix started Now",
    ]
    fix_url = reverse("fixes-detail", kwargs={"team_slug": team.slug, "fix_id": fix.pk})
    assert _timeline_html(response).count(f'href="{fix_url}"') == 5
    pr = fix.pull_requests.exclude(pr_url__startswith="javascript").get()
    assert f'href="{pr.pr_url}"' in body
    assert 'href="javascript' not in body
    fixes_card = body[body.index('id="finding-fixes"') : body.index('id="timeline"')]
    assert "Parameterise the orders query" in fixes_card and "Unrelated" not in fixes_card


def test_start_a_fix_is_offered_to_triagers_with_the_finding_chosen(team, member, client_as):
    finding = FindingFactory(repository=RepositoryFactory(team=team))
    start = f"{reverse('fixes-new', kwargs={'team_slug': team.slug})}?finding={finding.pk}"
    triager = client_as(member(Role.TRIAGER))

    page = triager.get(_url(finding)).content.decode()
    assert f'id="start-fix" href="{start}"' in page.replace("&amp;", "&")
    form = triager.get(start)
    assert form.status_code == 200
    assert [f.pk for f in form.context["findings"]] == [finding.pk]

    viewer_page = client_as(member(Role.VIEWER)).get(_url(finding)).content.decode()
    assert (
        "Start a fix" not in viewer_page
        and reverse("fixes-new", kwargs={"team_slug": team.slug}) not in viewer_page
    )


@pytest.mark.parametrize(
    "source_url,html_url,text,link",
    [
        (
            "https://github.com/acme/api/blob/main/app/db.py#L42",
            None,
            "app/db.py:42",
            "https://github.com/acme/api/blob/main/app/db.py#L42",
        ),
        (
            "https://bitbucket.org/acme/api/src/main/app/db.py#lines-7",
            None,
            "app/db.py:7",
            "https://bitbucket.org/acme/api/src/main/app/db.py#lines-7",
        ),
        # Not a web URL: the line is still read, the link is the source repo's file instead.
        (
            "javascript:alert(1)//#L3",
            "https://github.com/acme/api",
            "app/db.py:3",
            "https://github.com/acme/api/blob/main/app/db.py#L3",
        ),
        ("javascript:alert(1)//#L3", None, "app/db.py:3", None),
        (
            None,
            "https://github.com/acme/api",
            "app/db.py",
            "https://github.com/acme/api/blob/main/app/db.py",
        ),
        (None, None, "app/db.py", None),
    ],
)
def test_the_code_location_reads_the_line_and_links_only_to_web_urls(
    team, source_url, html_url, text, link
):
    repos = [{"full_name": "acme/api", "default_branch": "main", "html_url": html_url}]
    finding = FindingFactory(
        repository=RepositoryFactory(team=team, source_repos=repos),
        file_path="app/db.py",
        source_url=source_url,
    )
    location = code_location(finding=finding)
    assert (location.text, location.url) == (text, link)


def test_the_page_shows_the_line_and_never_links_a_script_url(team, member, client_as):
    finding = FindingFactory(
        repository=RepositoryFactory(team=team, source_repos=[]),
        file_path="app/db.py",
        source_url="javascript:alert(1)//#L9",
    )
    body = client_as(member(Role.VIEWER)).get(_url(finding)).content.decode()
    location = body[body.index('id="finding-location"') :]
    assert location.startswith('id="finding-location">app/db.py:9</dd>')
    assert 'href="javascript' not in body


def test_the_timeline_is_read_in_a_bounded_number_of_queries(
    team, member, client_as, django_assert_max_num_queries
):
    finding = FindingFactory(repository=RepositoryFactory(team=team))
    for _ in range(5):
        fix = FixFactory(repository=finding.repository, finding_ids=[finding.upstream_id])
        PullRequestFactory(fix=fix)
        FindingEventFactory(finding=finding)
    with django_assert_max_num_queries(12):
        entries = finding_timeline(finding=finding)
    assert len(entries) == 5 + 5 + 5


def test_a_reason_too_long_is_refused_in_words_and_changes_nothing(team, member, client_as):
    finding = FindingFactory(repository=RepositoryFactory(team=team))
    client = client_as(member(Role.TRIAGER))
    response = client.post(
        _url(finding), {"status": "resolved", "comment": "x" * 2001}, follow=True
    )
    assert "Keep the comment under 2,000 characters." in response.content.decode()
    finding.refresh_from_db()
    assert finding.status == "open"
    assert not [e for e in _entries(response) if e.startswith("Status changed")]


def test_viewing_a_finding_never_decrypts_an_api_key(team, member, client_as, monkeypatch):
    finding = FindingFactory(repository=RepositoryFactory(team=team))

    def decrypt(token):
        raise AssertionError("the finding page decrypted an API key")

    monkeypatch.setattr("triage.encryption.decrypt", decrypt)
    response = client_as(member(Role.VIEWER)).get(_url(finding))
    assert response.status_code == 200
    assert finding.connection.name.encode() in response.content
