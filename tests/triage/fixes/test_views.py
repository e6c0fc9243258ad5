"""Fix and approval pages: full page and fragment, roles, team isolation, inert diffs."""

import pytest

from tests.factories import FindingFactory, FixFactory, RepositoryFactory, sha
from tests.pages import team_url
from triage.models import FixApproval, ReviewComment, ReviewedFile, Role
from triage.services.approvals import approval_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def repository(team):
    return RepositoryFactory(team=team, name="app")


@pytest.fixture
def fix(repository):
    return FixFactory(repository=repository)


def test_fixes_list_page_and_fragment_with_bounded_queries(
    team, repository, member, client_as, django_assert_max_num_queries
):
    for _ in range(30):
        FixFactory(repository=repository)
    client = client_as(member(Role.VIEWER))
    with django_assert_max_num_queries(15):  # incl. the staleness banner
        page = client.get(team_url("fixes", team))
    assert page.status_code == 200
    assert page.content.decode().count("Fix SQL injection") == 30
    assert "<html" in page.content.decode()
    fragment = client.get(team_url("fixes", team), {"status": "completed"}, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    assert "<html" not in fragment.content.decode()
    assert 'id="fixes-table"' in fragment.content.decode()
    assert "HX-Request" in fragment["Vary"]


def test_empty_fixes_list_says_what_to_do(team, member, client_as):
    body = client_as(member(Role.VIEWER)).get(team_url("fixes", team)).content.decode()
    assert "No fixes" in body and "Findings page" in body
    # The empty state names the button the Findings page shows.
    assert "“Start a fix…”" in body and "Fix with AI" not in body


def test_another_teams_fix_is_not_found(fix, other_team, member, client_as):
    outsider = client_as(member(Role.ADMIN, of=other_team))
    assert outsider.get(team_url("fixes-detail", other_team, fix_id=fix.pk)).status_code == 404
    assert outsider.get(team_url("fixes-detail", fix.team, fix_id=fix.pk)).status_code == 404


def test_fix_page_lists_files_and_loads_bodies_lazily(fix, member, client_as):
    body = (
        client_as(member(Role.VIEWER))
        .get(team_url("fixes-detail", fix.team, fix_id=fix.pk))
        .content.decode()
    )
    assert "app/db.py" in body and "app/views.py" in body
    assert 'hx-trigger="intersect once"' in body
    # Bodies are not on the first screen: only their placeholders.
    assert "fetchall" not in body


def test_file_body_is_highlighted_and_inert(fix, member, client_as):
    client = client_as(member(Role.VIEWER))
    response = client.get(
        team_url("fixes-file", fix.team, fix_id=fix.pk, file_index=1), HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "<script>" not in body
    assert "&lt;script&gt;" in body
    assert 'class="diff-add"' in body and 'class="diff-del"' in body
    assert '<span class="' in body  # Pygments tokens
    split = client.get(
        team_url("fixes-file", fix.team, fix_id=fix.pk, file_index=1), {"view": "split"}
    ).content.decode()
    assert "diff-split" in split and "<script>" not in split


def test_a_missing_file_index_is_not_found(fix, member, client_as):
    client = client_as(member(Role.VIEWER))
    assert (
        client.get(team_url("fixes-file", fix.team, fix_id=fix.pk, file_index=9)).status_code == 404
    )


@pytest.mark.parametrize(
    "diff,expected",
    [
        ("", "The diff is empty"),
        ("this is not a diff\n<script>x</script>", "could not be read"),
        (
            "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n-a\n+b\nzzz\n",
            "could not be read",
        ),
    ],
)
def test_empty_and_malformed_diffs_are_shown_as_such(repository, member, client_as, diff, expected):
    fix = FixFactory(repository=repository, diff=diff, diff_sha256=sha(diff))
    response = client_as(member(Role.VIEWER)).get(team_url("fixes-detail", fix.team, fix_id=fix.pk))
    body = response.content.decode()
    assert response.status_code == 200
    assert expected in body
    assert "<script>x" not in body


def test_heartbeat_polls_while_running_and_stops_at_a_terminal_status(
    repository, member, client_as
):
    running = FixFactory(
        repository=repository,
        running=True,
        duration_seconds=42,
        agent_steps_completed=12,
    )
    client = client_as(member(Role.VIEWER))
    page = client.get(team_url("fixes-detail", running.team, fix_id=running.pk)).content.decode()
    assert 'hx-trigger="every 2s"' in page
    assert "42 s · 12 steps" in page
    fragment = client.get(
        team_url("fixes-heartbeat", running.team, fix_id=running.pk), HTTP_HX_REQUEST="true"
    )
    assert fragment.status_code == 200 and 'id="heartbeat"' in fragment.content.decode()
    assert "<html" not in fragment.content.decode()
    running.status = "failed"
    running.error_message = "Tests failed after the change"
    running.save()
    stopped = client.get(
        team_url("fixes-heartbeat", running.team, fix_id=running.pk), HTTP_HX_REQUEST="true"
    )
    assert stopped.status_code == 286
    page = client.get(team_url("fixes-detail", running.team, fix_id=running.pk)).content.decode()
    assert "Tests failed after the change" in page
    assert 'hx-trigger="every 2s"' not in page


def test_new_fix_form_proposes_a_title_and_picks_the_only_source_repo(
    repository, member, client_as
):
    finding = FindingFactory(repository=repository, file_path="app/db.py")
    body = (
        client_as(member(Role.TRIAGER))
        .get(team_url("fixes-new", repository.team), {"finding": [finding.pk]})
        .content.decode()
    )
    assert "Fix SQL injection in app/db.py" in body
    assert 'name="source_repo" value="acme/app"' in body
    assert "Fix and add tests" in body


def test_the_findings_page_selection_opens_the_form_without_starting_a_fix(
    repository, member, client_as
):
    from triage.models import Fix

    findings = [FindingFactory(repository=repository) for _ in range(2)]
    response = client_as(member(Role.TRIAGER)).post(
        team_url("fixes-new", repository.team),
        {"finding": [f.pk for f in findings], "status": "", "comment": ""},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "2 findings in" in body
    assert "Start fix" in body
    assert "errorlist" not in body
    assert not Fix.objects.exists()


def test_all_findings_matching_the_filters_open_the_form_for_them(
    repository, member, client_as, monkeypatch
):
    from triage.views import fixes as fix_views

    high = [FindingFactory(repository=repository, severity="high") for _ in range(3)]
    FindingFactory(repository=repository, severity="low")
    client = client_as(member(Role.TRIAGER))

    response = client.post(
        team_url("fixes-new", repository.team),
        {"all_matching": "1", "filter_query": "severity=high", "finding": [high[0].pk]},
    )
    assert response.status_code == 200
    assert "3 findings in" in response.content.decode()

    monkeypatch.setattr(fix_views, "MAX_FIX_FINDINGS", 2)
    too_many = client.post(
        team_url("fixes-new", repository.team),
        {"all_matching": "1", "filter_query": "severity=high"},
    )
    assert "at most 2 findings" in too_many.content.decode()
    assert 'name="title"' not in too_many.content.decode()  # no form to start it


def test_a_finding_value_that_is_no_key_opens_no_form(repository, member, client_as):
    finding = FindingFactory(repository=repository)
    response = client_as(member(Role.TRIAGER)).post(
        team_url("fixes-new", repository.team),
        {"finding": [str(2**70), str(finding.pk)], "status": "", "comment": ""},
    )
    assert response.status_code == 200
    assert "1 finding in" in response.content.decode()


def test_new_fix_offers_one_fix_per_repository(team, member, client_as):
    a = FindingFactory(repository=RepositoryFactory(team=team))
    b = FindingFactory(repository=RepositoryFactory(team=team))
    response = client_as(member(Role.TRIAGER)).get(
        team_url("fixes-new", team), {"finding": [a.pk, b.pk]}
    )
    body = response.content.decode()
    assert "2 findings in 2 repositories: one fix per repository" in body
    assert "Start 2 fixes" in body


def test_comments_are_threaded_anchored_and_escaped(fix, member, client_as):
    triager = member(Role.TRIAGER)
    client = client_as(triager)
    post = {
        "action": "comment",
        "diff_sha256": fix.diff_sha256,
        "file_path": "app/db.py",
        "side": "new",
        "line": "2",
        "body": "Is <b>this</b> safe?",
    }
    response = client.post(
        team_url("fixes-detail", fix.team, fix_id=fix.pk), post, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    root = ReviewComment.objects.get()
    client.post(
        team_url("fixes-detail", fix.team, fix_id=fix.pk),
        {**post, "parent": root.pk, "body": "Yes", "line": "99"},
        HTTP_HX_REQUEST="true",
    )
    reply = ReviewComment.objects.exclude(pk=root.pk).get()
    assert reply.parent_id == root.pk and reply.line == 2
    body = client.get(
        team_url("fixes-file", fix.team, fix_id=fix.pk, file_index=0)
    ).content.decode()
    assert "Is &lt;b&gt;this&lt;/b&gt; safe?" in body and "Yes" in body
    viewer = client_as(member(Role.VIEWER))
    assert viewer.post(team_url("fixes-detail", fix.team, fix_id=fix.pk), post).status_code == 403


def test_viewed_mark_per_file(fix, member, client_as):
    user = member(Role.VIEWER)
    client = client_as(user)
    file_url = team_url("fixes-file", fix.team, fix_id=fix.pk, file_index=0)
    assert client.post(file_url, {"viewed": "on"}, HTTP_HX_REQUEST="true").status_code == 204
    assert ReviewedFile.objects.filter(user=user, file_path="app/db.py").exists()
    client.post(file_url, {}, HTTP_HX_REQUEST="true")
    assert not ReviewedFile.objects.exists()


def test_request_and_decide_through_the_pages(fix, member, client_as, monkeypatch):
    from triage import tasks

    monkeypatch.setattr(tasks.open_pull_requests, "delay", lambda *a: None)
    triager, approver = member(Role.TRIAGER), member(Role.APPROVER)
    response = client_as(triager).post(
        team_url("fixes-detail", fix.team, fix_id=fix.pk),
        {"action": "request_approval", "note": "Reviewed both files", "pr_title": ""},
    )
    assert response.status_code == 302
    approval = FixApproval.objects.get()
    # The requester sees no decision form; the approver does, and the queue lists it.
    assert (
        "decide-form"
        not in client_as(triager)
        .get(team_url("fixes-detail", fix.team, fix_id=fix.pk))
        .content.decode()
    )
    approver_client = client_as(approver)
    queue = approver_client.get(team_url("approvals", fix.team))
    assert "Reviewed both files" in queue.content.decode()
    assert queue.context["approvals_pending_count"] == 1
    assert 'aria-label="1 waiting">1</span>' in queue.content.decode()  # the navigation badge
    assert (
        "decide-form"
        in approver_client.get(team_url("fixes-detail", fix.team, fix_id=fix.pk)).content.decode()
    )
    # A triager cannot decide, even by posting directly.
    decide = team_url("approvals-decide", fix.team, approval_id=approval.pk)
    assert client_as(triager).post(decide, {"decision": "approve"}).status_code == 403
    approver_client.post(decide, {"decision": "approve", "comment": "Good"})
    approval.refresh_from_db()
    assert approval.status == FixApproval.Status.APPROVED
    page = approver_client.get(team_url("fixes-detail", fix.team, fix_id=fix.pk)).content.decode()
    assert "Good" in page and "approved" in page


def test_self_approval_through_the_page_is_refused(fix, member, client_as):
    approver = member(Role.APPROVER)
    approval = approval_request(fix=fix, actor=approver)
    client = client_as(approver)
    client.post(
        team_url("approvals-decide", fix.team, approval_id=approval.pk), {"decision": "approve"}
    )
    approval.refresh_from_db()
    assert approval.status == FixApproval.Status.PENDING


def test_approval_policy_page_is_for_admins(team, member, client_as):
    admin = client_as(member(Role.ADMIN))
    data = {"required_approvals": "2", "admins_may_self_approve": "on"}
    url = team_url("settings-policies", team)
    assert client_as(member(Role.APPROVER)).post(url, data).status_code == 403
    response = admin.post(url, data)
    assert response.status_code == 302
    assert team.approval_policy.required_approvals == 2


def test_compare_versions_shows_what_a_refine_changed(fix, member, client_as):
    from triage.models import FixDiffVersion

    FixDiffVersion.objects.create(
        team=fix.team, fix=fix, number=1, sha256=sha("old"), diff=fix.diff.replace("%s", "?")
    )
    body = (
        client_as(member(Role.VIEWER))
        .get(team_url("fixes-compare", fix.team, fix_id=fix.pk), {"a": 1, "b": 2})
        .content.decode()
    )
    assert '<option value="1" selected>Version 1<' in body
    assert '<option value="2" selected>Version 2 (current)<' in body
    assert "diff-add" in body and "diff-del" in body


def test_finding_include_lists_its_fixes_and_pull_requests(fix, repository):
    from django.template.loader import render_to_string

    finding = FindingFactory(repository=repository)
    fix.finding_ids = [finding.upstream_id]
    fix.save()
    from triage.models import Role as Roles

    html = render_to_string("triage/fixes/_for_finding.html", {"finding": finding})
    assert fix.title in html and "Start a fix…" not in html
    html = render_to_string(
        "triage/fixes/_for_finding.html",
        {"finding": finding, "current_role": Roles.TRIAGER, "Role": Roles},
    )
    assert "Start a fix…" in html and "Fix with AI" not in html


def test_approval_card_polls_while_pull_requests_are_being_opened(fix, member, client_as):
    from triage.models import PullRequestOpening

    triager, approver = member(Role.TRIAGER), member(Role.APPROVER)
    approval = approval_request(fix=fix, actor=triager)
    FixApproval.objects.filter(pk=approval.pk).update(status="approved")
    opening = PullRequestOpening.objects.create(
        team=fix.team, fix=fix, approval=approval, diff_sha256=fix.diff_sha256, status="sending"
    )
    client = client_as(approver)
    page = client.get(team_url("fixes-detail", fix.team, fix_id=fix.pk)).content.decode()
    assert team_url("fixes-approval", fix.team, fix_id=fix.pk) in page
    card = client.get(team_url("fixes-approval", fix.team, fix_id=fix.pk), HTTP_HX_REQUEST="true")
    assert card.status_code == 200 and 'id="approval"' in card.content.decode()
    opening.status = "failed"
    opening.error_message = "Kolega is unreachable"
    opening.save()
    card = client.get(team_url("fixes-approval", fix.team, fix_id=fix.pk), HTTP_HX_REQUEST="true")
    assert card.status_code == 286
    body = card.content.decode()
    assert "Kolega is unreachable" in body and "Retry opening pull requests" in body


def test_approvers_get_an_email_when_email_is_configured(
    fix, member, settings, django_capture_on_commit_callbacks
):
    from django.core import mail

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    triager = member(Role.TRIAGER)
    approver = member(Role.APPROVER)
    member(Role.VIEWER)
    with django_capture_on_commit_callbacks(execute=True):
        approval_request(fix=fix, actor=triager, note="Please look")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [approver.email]
    assert fix.title in mail.outbox[0].subject


def test_timeline_shows_portal_steps_and_kolega_milestones_in_order(fix, member, client_as):
    triager = member(Role.TRIAGER)
    approval_request(fix=fix, actor=triager, note="Reviewed")
    body = (
        client_as(triager).get(team_url("fixes-detail", fix.team, fix_id=fix.pk)).content.decode()
    )
    timeline = body[body.index('id="timeline"') :]
    assert "requested approval: “Reviewed”" in timeline
    assert timeline.index("Kolega finished the run") < timeline.index("requested approval")
