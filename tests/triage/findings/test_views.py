"""Findings pages and fragments: full page and htmx fragment, filters in the URL, keyset
pages, counts, roles and team isolation, and a bounded number of queries."""

import base64
import html
import json
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    FindingEventFactory,
    FindingFactory,
    RepositoryFactory,
    ScanBatchFactory,
    finding_status_job,
)
from triage.models import (
    FindingStatusJob,
    Role,
    SavedView,
    ScanBatchFinding,
    SlaPolicy,
)
from triage.selectors import findings as selectors

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _url(team, name="findings", **kwargs):
    return reverse(name, kwargs={"team_slug": team.slug, **kwargs})


def _row_ids(response) -> list[int]:
    # Read from the HTML: htmx fragments are template partials, which the test client's
    # context capture does not always see.
    return [int(pk) for pk in re.findall(r'<tr id="finding-row-(\d+)"', response.content.decode())]


def _link(response, rel: str) -> str:
    found = re.search(rf'rel="{rel}" href="\?([^"]*)"', response.content.decode())
    return html.unescape(found.group(1)) if found else ""


@pytest.fixture
def repository(team):
    return RepositoryFactory(team=team, name="payments-api")


@pytest.fixture
def viewer_client(member, client_as):
    return client_as(member(Role.VIEWER))


@pytest.fixture
def triager_client(member, client_as):
    return client_as(member(Role.TRIAGER))


def test_list_is_a_full_page_and_a_fragment_for_htmx(repository, team, triager_client):
    FindingFactory.create_batch(3, repository=repository)

    page = triager_client.get(_url(team))
    fragment = triager_client.get(_url(team), **HTMX)

    assert page.status_code == fragment.status_code == 200
    assert b"<html" in page.content and b'id="findings-page"' in page.content
    assert b"<html" not in fragment.content and fragment.content.lstrip().startswith(
        b'<div id="findings-page"'
    )
    assert "HX-Request" in page["Vary"] and "HX-Request" in fragment["Vary"]
    assert b"3 findings" in fragment.content


def test_history_restore_gets_the_whole_page(repository, team, triager_client):
    response = triager_client.get(
        _url(team), HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert b"<html" in response.content


def test_empty_states_say_what_to_do_next(team, triager_client, repository):
    no_findings = triager_client.get(_url(team)).content.decode()
    assert "No findings mirrored yet" in no_findings and _url(team, "scans") in no_findings
    FindingFactory(repository=repository, severity="low")
    filtered = triager_client.get(_url(team) + "?severity=critical").content.decode()
    assert "No findings match these filters" in filtered


def test_empty_state_without_a_connection_points_to_settings(team, triager_client):
    body = triager_client.get(_url(team)).content.decode()
    assert "No Kolega organization connected" in body
    assert _url(team, "settings-connections") in body


def _filter_cases():
    now = timezone.now()
    return [
        ("severity=critical&severity=low", lambda f: f.severity in ("critical", "low")),
        ("status=resolved", lambda f: f.status == "resolved"),
        ("scan_type=secrets_scan", lambda f: f.scan_type == "secrets_scan"),
        ("check_id=generic.secrets.aws-key", lambda f: f.check_id == "generic.secrets.aws-key"),
        ("path=config/", lambda f: "config/" in f.file_path),
        ("cwe=798", lambda f: "CWE-798" in f.cwe),
        ("q=HARDCODED", lambda f: "hardcoded" in f.title.lower()),
        ("age_min_days=30", lambda f: f.first_detected_at <= now - timedelta(days=30)),
        ("age_max_days=30", lambda f: f.first_detected_at >= now - timedelta(days=30)),
        (
            f"first_detected_after={(now - timedelta(days=40)).date()}"
            f"&first_detected_before={(now - timedelta(days=20)).date()}",
            lambda f: (
                (now - timedelta(days=40)).date()
                <= f.first_detected_at.date()
                <= (now - timedelta(days=20)).date()
            ),
        ),
        (
            f"last_detected_after={(now - timedelta(days=3)).date()}",
            lambda f: f.last_detected_at.date() >= (now - timedelta(days=3)).date(),
        ),
        (
            f"last_detected_before={(now - timedelta(days=5)).date()}",
            lambda f: f.last_detected_at.date() <= (now - timedelta(days=5)).date(),
        ),
    ]


@pytest.fixture
def varied_findings(repository):
    now = timezone.now()
    made = []
    for n in range(24):
        secret = n % 3 == 0
        made.append(
            FindingFactory(
                repository=repository,
                severity=["critical", "high", "medium", "low"][n % 4],
                status=["open", "resolved", "ignored"][n % 3 if n % 5 else 0],
                scan_type="secrets_scan" if secret else "semgrep_scan",
                check_id="generic.secrets.aws-key" if secret else "python.sqli",
                title="Hardcoded AWS key" if secret else "SQL injection",
                cwe=["CWE-798"] if secret else ["CWE-89"],
                file_path=f"config/settings_{n}.py" if n % 2 else f"app/views_{n}.py",
                first_detected_at=now - timedelta(days=2 * n + 1),
                last_detected_at=now - timedelta(days=n % 9),
            )
        )
    return made


@pytest.mark.parametrize("query,keeps", _filter_cases(), ids=lambda c: str(c)[:40])
def test_each_filter_narrows_the_table(query, keeps, varied_findings, team, viewer_client):
    response = viewer_client.get(f"{_url(team)}?{query}", **HTMX)

    assert response.status_code == 200
    expected = {f.pk for f in varied_findings if keeps(f)}
    assert expected and len(expected) < len(varied_findings)
    assert set(_row_ids(response)) == expected


def test_repository_and_batch_filters_the_dashboard_links_use(team, repository, viewer_client):
    other_repo = RepositoryFactory(team=team, connection=repository.connection)
    in_batch = FindingFactory.create_batch(2, repository=repository)
    FindingFactory(repository=repository)
    FindingFactory(repository=other_repo)
    batch = ScanBatchFactory(repository=repository)
    for finding in in_batch:
        ScanBatchFinding.objects.create(scan_batch=batch, finding=finding)

    by_repo = viewer_client.get(f"{_url(team)}?repository={repository.pk}")
    by_batch = viewer_client.get(f"{_url(team)}?batch={batch.pk}")

    assert len(_row_ids(by_repo)) == 3
    assert set(_row_ids(by_batch)) == {f.pk for f in in_batch}
    assert "Scan batch: Code (SAST)" in by_batch.content.decode()


def test_another_teams_repository_or_batch_is_not_a_valid_filter(
    team, other_team, repository, viewer_client
):
    own = FindingFactory(repository=repository)
    foreign_repo = RepositoryFactory(team=other_team)
    foreign_batch = ScanBatchFactory(repository=foreign_repo)
    FindingFactory(repository=foreign_repo)

    for query, label in (
        (f"repository={foreign_repo.pk}", "Repository"),
        (f"batch={foreign_batch.pk}", "Scan batch"),
    ):
        response = viewer_client.get(f"{_url(team)}?{query}")
        assert response.status_code == 200
        # The filter is ignored and said so; the list stays the team's own.
        assert _row_ids(response) == [own.pk]
        assert f"Ignored the filter {label}:" in response.content.decode()


def test_an_unknown_parameter_or_sort_is_named_and_changes_nothing(team, repository, viewer_client):
    high = FindingFactory(repository=repository, severity="high")
    low = FindingFactory(repository=repository, severity="low")

    misspelt = viewer_client.get(f"{_url(team)}?sevrity=low&sort=newest-ish")
    page = misspelt.content.decode()

    assert misspelt.status_code == 200
    assert _row_ids(misspelt) == [high.pk, low.pk]  # unfiltered, in the default order
    assert "Ignored the parameter “sevrity”: this page has no such filter." in page
    assert "Ignored the sort “newest-ish”: sorted by " in page
    # Known parameters of the page are not reported.
    known = viewer_client.get(f"{_url(team)}?severity=low&sort=-severity&cursor=")
    assert "Ignored the" not in known.content.decode()


def test_other_teams_findings_never_appear(team, other_team, repository, viewer_client):
    mine = FindingFactory(repository=repository)
    FindingFactory(repository=RepositoryFactory(team=other_team))
    assert _row_ids(viewer_client.get(_url(team))) == [mine.pk]


@pytest.mark.parametrize("sort", list(selectors.SORTS))
def test_keyset_pages_walk_every_row_once_in_order_both_ways(
    sort, team, repository, viewer_client, monkeypatch
):
    monkeypatch.setattr(selectors, "PAGE_SIZE", 7)
    now = timezone.now()
    for n in range(30):
        # Ties in every sort column, so the id breaks them.
        FindingFactory(
            repository=repository,
            severity=["critical", "high", "low"][n % 3],
            file_path=f"app/{n % 4}.py",
            first_detected_at=now - timedelta(days=n % 5),
            last_detected_at=now - timedelta(hours=n % 6),
        )
    response = viewer_client.get(f"{_url(team)}?sort={sort}")
    pages = [_row_ids(response)]
    while _link(response, "next"):
        response = viewer_client.get(f"{_url(team)}?{_link(response, 'next')}", **HTMX)
        pages.append(_row_ids(response))
    walked = [pk for page in pages for pk in page]

    queryset = selectors.findings_for_team(team=team)
    spec = selectors.SORTS[sort]
    if spec.column == "severity_rank":
        queryset = queryset.annotate(severity_rank=selectors.SEVERITY_RANK)
    elif spec.column == "sla_due_at":
        queryset = queryset.annotate(sla_due_at=selectors.sla_due(SlaPolicy.DEFAULT_DAYS))
    order = [f"-{spec.column}", "-pk"] if spec.descending else [spec.column, "pk"]
    assert walked == list(queryset.order_by(*order).values_list("pk", flat=True))
    assert [len(p) for p in pages] == [7, 7, 7, 7, 2]

    backwards = []
    while _link(response, "prev"):
        response = viewer_client.get(f"{_url(team)}?{_link(response, 'prev')}")
        backwards.insert(0, _row_ids(response))
    assert backwards == pages[:-1]


def test_cursor_stays_in_the_url_and_a_foreign_cursor_starts_over(
    team, repository, viewer_client, monkeypatch
):
    monkeypatch.setattr(selectors, "PAGE_SIZE", 2)
    FindingFactory.create_batch(5, repository=repository)
    first = viewer_client.get(f"{_url(team)}?status=open&sort=file")
    query = parse_qs(_link(first, "next"))
    assert query["status"] == ["open"] and query["sort"] == ["file"] and query["cursor"]
    assert 'name="query" value="status=open&amp;sort=file"' in first.content.decode()
    garbage = viewer_client.get(f"{_url(team)}?cursor=not-a-cursor")
    assert garbage.status_code == 200 and len(_row_ids(garbage)) == 2
    for forged in (
        ["after", "2026-13-45T99:00:00+00:00", 1],
        ["after", "2026-01-01T00:00:00", 1],
        ["after", "2026-01-01T00:00:00+00:00", 2**70],
        ["before", 2**70, 1],
        ["sideways", "x", 1],
        "not a list",
    ):
        raw = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode()
        for sort in ("age", "severity", "file"):
            response = viewer_client.get(f"{_url(team)}?sort={sort}&cursor={raw}")
            assert response.status_code == 200, (forged, sort)


def test_counts_above_the_limit_are_shown_as_a_lower_bound(
    team, repository, viewer_client, monkeypatch
):
    FindingFactory.create_batch(6, repository=repository)
    monkeypatch.setattr(selectors, "COUNT_LIMIT", 5)
    body = viewer_client.get(_url(team)).content.decode()
    assert "5+ findings" in body
    monkeypatch.setattr(selectors, "COUNT_LIMIT", 10)
    assert "6 findings" in viewer_client.get(_url(team)).content.decode()


def test_findings_page_queries_are_bounded_and_do_not_grow_with_the_page(
    team, repository, triager_client, monkeypatch, django_assert_max_num_queries
):
    for n in range(60):
        FindingFactory(
            repository=RepositoryFactory(team=team, connection=repository.connection)
            if n % 10 == 0
            else repository
        )
    url = f"{_url(team)}?status=open&severity=high&sort=severity&q=sql"
    # The first view after sign-in slides the session's expiry (a write a minute at most).
    triager_client.get(url)
    counts = {}
    for size in (5, 50):
        monkeypatch.setattr(selectors, "PAGE_SIZE", size)
        with CaptureQueriesContext(db_connection) as queries:
            response = triager_client.get(url)
        assert len(_row_ids(response)) == size
        counts[size] = len(queries)
    assert counts[5] == counts[50]
    with django_assert_max_num_queries(8):
        triager_client.get(url, **HTMX)


def test_viewer_sees_findings_but_no_way_to_change_them(team, repository, viewer_client):
    finding = FindingFactory(repository=repository)
    listing = viewer_client.get(_url(team)).content.decode()
    detail = viewer_client.get(_url(team, "finding", finding_id=finding.pk)).content.decode()

    assert finding.title in listing
    assert 'name="finding"' not in listing and "findings-selection" not in listing
    assert "data-can-triage" not in listing
    assert 'name="status"' not in detail
    for url, data in (
        (_url(team, "findings-bulk"), {"finding": [finding.pk], "status": "resolved"}),
        (_url(team, "finding", finding_id=finding.pk), {"status": "resolved"}),
    ):
        assert viewer_client.post(url, data).status_code == 403
        assert viewer_client.post(url, data, **HTMX).status_code == 403
    finding.refresh_from_db()
    assert finding.status == "open"
    assert not FindingStatusJob.objects.exists()


def test_triager_sees_selection_and_status_controls(team, repository, triager_client):
    finding = FindingFactory(repository=repository)
    listing = triager_client.get(_url(team)).content.decode()
    detail = triager_client.get(_url(team, "finding", finding_id=finding.pk)).content.decode()
    assert f'name="finding" value="{finding.pk}" form="findings-selection"' in listing
    assert 'id="selection-actions"' in listing
    assert 'name="status" value="resolved"' in detail


def test_finding_page_shows_every_field_links_and_timeline(team, repository, viewer_client):
    finding = FindingFactory(
        repository=repository,
        file_path="app/db.py",
        cvss_base_score=9.1,
        cvss_severity="critical",
        cvss_vector="CVSS:3.1/AV:N/AC:L",
        references=["https://example.com/advisory"],
        source_url="https://github.com/acme/payments-api/blob/main/app/db.py#L3",
    )
    FindingEventFactory(
        connection=repository.connection,
        finding_upstream_id=finding.upstream_id,
        event_type="status_changed",
        previous_status="open",
        new_status="ignored",
    )
    FindingEventFactory(connection=repository.connection, finding_upstream_id="someone-else")

    body = viewer_client.get(_url(team, "finding", finding_id=finding.pk)).content.decode()

    location = body[body.index('id="finding-location"') :]
    assert location.startswith(
        'id="finding-location"><a href="https://github.com/acme/payments-api/blob/main/app/db.py#L3"'
    )
    assert ">app/db.py:3</a>" in location
    assert 'href="https://cwe.mitre.org/data/definitions/89.html"' in body
    assert 'href="https://owasp.org/Top10/A03_2021-Injection/"' in body
    assert "9.1" in body and "CVSS:3.1/AV:N/AC:L" in body
    assert "https://example.com/advisory" in body
    assert "Status changed" in body and "Open → Ignored" in body
    assert body.count('class="timeline-entry"') == 1
    assert "No fix has been started" in body


def test_finding_of_another_team_is_404(team, other_team, viewer_client, triager_client):
    foreign = FindingFactory(repository=RepositoryFactory(team=other_team))
    url = _url(team, "finding", finding_id=foreign.pk)
    assert viewer_client.get(url).status_code == 404
    assert triager_client.post(url, {"status": "resolved"}).status_code == 404


def test_bulk_preview_counts_what_will_change(team, repository, triager_client):
    resolved = FindingFactory.create_batch(2, repository=repository, status="resolved")
    open_ = FindingFactory.create_batch(3, repository=repository, status="open")
    FindingFactory(repository=RepositoryFactory(team=team, connection=repository.connection))

    chosen = triager_client.post(
        _url(team, "findings-bulk"),
        {
            "finding": [f.pk for f in resolved + open_[:1]],
            "status": "resolved",
            "action": "preview",
        },
        **HTMX,
    )
    matching = triager_client.post(
        _url(team, "findings-bulk"),
        {
            "all_matching": "1",
            "filter_query": f"repository={repository.pk}",
            "status": "resolved",
            "action": "preview",
        },
        **HTMX,
    )
    nothing = triager_client.post(
        _url(team, "findings-bulk"), {"status": "resolved", "action": "preview"}, **HTMX
    )

    assert b"<html" not in chosen.content
    assert "<strong>1</strong> finding will change" in chosen.content.decode()
    assert "<strong>2</strong> are already Resolved" in chosen.content.decode()
    assert "<strong>3</strong> findings will change" in matching.content.decode()
    assert "Select findings, or all findings matching" in nothing.content.decode()


def test_bulk_submit_creates_a_job_for_all_matching_and_opens_it(
    team, repository, triager_client, django_capture_on_commit_callbacks
):
    matching = FindingFactory.create_batch(3, repository=repository, severity="critical")
    FindingFactory(repository=repository, severity="low")

    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = triager_client.post(
            _url(team, "findings-bulk"),
            {
                "all_matching": "1",
                "filter_query": "severity=critical",
                "status": "ignored",
                "comment": "Accepted risk",
            },
        )

    job = FindingStatusJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == _url(team, "findings-job", job_id=job.pk)
    assert len(queued) == 1
    assert (job.total, job.target_status, job.comment) == (3, "ignored", "Accepted risk")
    assert set(job.items.values_list("finding_id", flat=True)) == {f.pk for f in matching}
    assert set(job.items.values_list("previous_status", flat=True)) == {"open"}


def test_bulk_submit_by_htmx_redirects_the_client(
    team, repository, triager_client, django_capture_on_commit_callbacks
):
    finding = FindingFactory(repository=repository)
    with django_capture_on_commit_callbacks(execute=False):
        response = triager_client.post(
            _url(team, "findings-bulk"), {"finding": [finding.pk], "status": "ignored"}, **HTMX
        )
    job = FindingStatusJob.objects.get()
    assert response["HX-Redirect"] == _url(team, "findings-job", job_id=job.pk)


def test_job_page_polls_while_running_and_stops_with_286(team, repository, triager_client):
    job = finding_status_job(
        team, repository=repository, state="running", outcomes=["changed", "pending", "pending"]
    )
    url = _url(team, "findings-job", job_id=job.pk)

    page = triager_client.get(url)
    running = triager_client.get(url, **HTMX)
    assert b"<html" in page.content
    assert running.status_code == 200 and b"<html" not in running.content
    assert b'hx-trigger="every 2s"' in running.content
    assert b'class="job-bar-succeeded" width="1"' in running.content
    assert b"1 / 3" in running.content

    FindingStatusJob.objects.filter(pk=job.pk).update(state="finished")
    finished = triager_client.get(url, **HTMX)
    assert finished.status_code == 286
    assert b"every 2s" not in finished.content
    assert "HX-Request" in finished["Vary"]


def test_finished_job_lists_failures_and_offers_retry_and_undo(
    team, repository, triager_client, viewer_client
):
    job = finding_status_job(
        team, repository=repository, state="finished", outcomes=["changed", "failed", "unchanged"]
    )
    url = _url(team, "findings-job", job_id=job.pk)

    body = triager_client.get(url).content.decode()
    viewer_body = viewer_client.get(url).content.decode()

    assert "Kolega is unreachable (HTTP 503)." in body
    assert "Retry failed (1)" in body and "Undo this change" in body
    assert "Kolega is unreachable (HTTP 503)." in viewer_body
    assert "Retry failed" not in viewer_body and "Undo this change" not in viewer_body
    assert viewer_client.post(url, {"action": "retry"}).status_code == 403
    assert viewer_client.post(url, {"action": "undo"}).status_code == 403


def test_retry_and_undo_from_the_job_page(
    team, repository, triager_client, django_capture_on_commit_callbacks
):
    job = finding_status_job(
        team, repository=repository, state="finished", outcomes=["changed", "failed"]
    )
    url = _url(team, "findings-job", job_id=job.pk)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        undo = triager_client.post(url, {"action": "undo"})
        retry = triager_client.post(url, {"action": "retry"})
    undo_job = FindingStatusJob.objects.get(undo_of=job)
    assert undo["Location"] == _url(team, "findings-job", job_id=undo_job.pk)
    assert retry["Location"] == url
    assert len(queued) == 2
    job.refresh_from_db()
    assert job.state == "queued" and job.items.filter(outcome="pending").count() == 1
    assert list(undo_job.items.values_list("target_status", flat=True)) == ["open"]


def test_jobs_of_another_team_are_404_and_the_list_is_the_teams(
    team, other_team, repository, triager_client
):
    foreign = finding_status_job(other_team, state="finished", outcomes=["changed"])
    mine = finding_status_job(team, repository=repository, state="finished", outcomes=["changed"])
    assert triager_client.get(_url(team, "findings-job", job_id=foreign.pk)).status_code == 404
    listing = triager_client.get(_url(team, "findings-jobs")).content.decode()
    assert f"#{mine.pk}<" in listing and f"#{foreign.pk}<" not in listing


def test_saved_views_are_per_user_and_restore_the_filters(team, repository, member, client_as):
    user, colleague = member(Role.VIEWER), member(Role.TRIAGER)
    client = client_as(user)
    response = client.post(
        _url(team, "findings-views"),
        {"name": "Critical secrets", "query": "severity=critical&scan_type=secrets_scan"},
    )
    assert response["Location"] == f"{_url(team)}?severity=critical&scan_type=secrets_scan"
    view = SavedView.objects.get()
    assert (view.user, view.team) == (user, team)
    assert "Critical secrets" in client.get(_url(team)).content.decode()
    assert "Critical secrets" not in client_as(colleague).get(_url(team)).content.decode()

    opened = client.get(_url(team, "findings-view", view_id=view.pk))
    assert urlparse(opened["Location"]).query == "severity=critical&scan_type=secrets_scan"
    duplicate = client.post(_url(team, "findings-views"), {"name": "Critical secrets"})
    assert duplicate.status_code == 302 and SavedView.objects.count() == 1

    other_client = client_as(colleague)
    assert other_client.post(_url(team, "findings-view", view_id=view.pk)).status_code == 404
    assert client.post(_url(team, "findings-view", view_id=view.pk)).status_code == 302
    assert not SavedView.objects.exists()
