"""Comments on a finding: who may write them, what they may hold, mentions of team members,
escaping, the htmx thread and its full-page fallback, and other teams."""

import pytest
from django.urls import reverse

from tests.factories import FindingFactory, RepositoryFactory, UserFactory
from triage.models import AuditEvent, Finding, FindingComment, Role
from triage.models.comments import body_parts, mention_names
from triage.services.errors import RoleRequired, ServiceError
from triage.services.finding_comments import finding_comment_add

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def finding(team):
    return FindingFactory(repository=RepositoryFactory(team=team))


def _page(finding) -> str:
    return reverse("finding", kwargs={"team_slug": finding.team.slug, "finding_id": finding.pk})


def _comments(finding) -> str:
    return reverse(
        "finding-comments", kwargs={"team_slug": finding.team.slug, "finding_id": finding.pk}
    )


def _thread(body: str) -> str:
    start = body.index('id="comment-thread"')
    return body[start : body.index("</ol>", start)]


# Mentions, read from the text


@pytest.mark.parametrize(
    "body,names",
    [
        ("@alice please look", ["alice"]),
        ("Ask @alice.", ["alice"]),
        ("@alice, @bob and @alice again", ["alice", "bob"]),
        ("(@carol)", ["carol"]),
        ("write to dev@alice.example", []),
        ("an @ alone", []),
        ("@first.last-2 knows", ["first.last-2"]),
    ],
)
def test_mention_names_are_read_from_the_text(body, names):
    assert mention_names(body) == names


def test_only_known_names_become_mention_parts():
    parts = body_parts("Hi @Alice and @mallory.", {"alice"})
    assert parts == [("Hi ", False), ("@Alice", True), (" and @mallory.", False)]


# The service


def test_a_comment_stores_the_team_members_it_mentions_and_is_audited(team, other_team, member):
    author = member(Role.TRIAGER, username="tess")
    alice = member(Role.VIEWER, username="alice")
    member(Role.ADMIN, username="outsider", of=other_team)
    UserFactory(username="nomember")
    finding = FindingFactory(repository=RepositoryFactory(team=team))

    comment = finding_comment_add(
        team=team,
        actor=author,
        finding=finding,
        body="  @ALICE can you check? cc @outsider @nomember @ghost  ",
    )

    assert comment.body == "@ALICE can you check? cc @outsider @nomember @ghost"
    assert list(comment.mentions.all()) == [alice]
    assert (comment.connection_id, comment.finding_upstream_id) == (
        finding.connection_id,
        finding.upstream_id,
    )
    event = AuditEvent.objects.get(action="finding.comment")
    assert (event.team, event.actor, event.target_id) == (team, author, str(finding.pk))
    assert event.details["mentions"] == ["alice"]


@pytest.mark.parametrize("role", [Role.TRIAGER, Role.APPROVER, Role.ADMIN])
def test_triagers_and_above_may_comment(team, member, finding, role):
    assert finding_comment_add(team=team, actor=member(role), finding=finding, body="ok")


def test_a_viewer_may_not_comment(team, member, finding):
    with pytest.raises(RoleRequired):
        finding_comment_add(team=team, actor=member(Role.VIEWER), finding=finding, body="hi")
    assert not FindingComment.objects.exists()


@pytest.mark.parametrize(
    "body,message",
    [
        ("", "Write a comment first."),
        (" \n\t ", "Write a comment first."),
        ("x" * 4001, "at most 4,000 characters; this one has 4,001"),
    ],
)
def test_empty_and_too_long_comments_are_refused(team, member, finding, body, message):
    with pytest.raises(ServiceError) as refused:
        finding_comment_add(team=team, actor=member(Role.TRIAGER), finding=finding, body=body)
    assert message in refused.value.message and refused.value.field == "body"
    assert not FindingComment.objects.exists() and not AuditEvent.objects.exists()


def test_the_limit_counts_a_line_break_once(team, member, finding):
    body = "a\r\n" * 1999 + "aa"  # 4,000 characters as typed, 5,999 as sent
    comment = finding_comment_add(team=team, actor=member(Role.TRIAGER), finding=finding, body=body)
    assert len(comment.body) == 4000


def test_another_teams_finding_is_refused(team, other_team, member):
    foreign = FindingFactory(repository=RepositoryFactory(team=other_team))
    with pytest.raises(ServiceError):
        finding_comment_add(team=team, actor=member(Role.ADMIN), finding=foreign, body="hi")


def test_the_thread_survives_a_mirror_rebuild(team, member, client_as, finding):
    finding_comment_add(team=team, actor=member(Role.TRIAGER), finding=finding, body="Keep me")
    values = {
        field.name: getattr(finding, field.name)
        for field in Finding._meta.concrete_fields
        if field.name != "id"
    }
    finding.delete()
    rebuilt = Finding.objects.create(**values)
    body = client_as(member(Role.VIEWER)).get(_page(rebuilt)).content.decode()
    assert "Keep me" in _thread(body)


# The view


def test_posting_a_comment_by_htmx_answers_the_thread_with_the_mention_marked(
    team, member, client_as, finding
):
    member(Role.VIEWER, username="alice")
    client = client_as(member(Role.TRIAGER, username="tess"))

    response = client.post(_comments(finding), {"body": "@alice is this reachable?"}, **HTMX)

    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card" id="comments"')
    assert "<html" not in body
    thread = _thread(body)
    assert '<strong class="mention">@alice</strong> is this reachable?' in thread
    assert "tess" in thread
    assert response["Vary"] and "HX-Request" in response["Vary"]


def test_a_normal_post_goes_back_to_the_page_which_shows_the_thread(
    team, member, client_as, finding
):
    client = client_as(member(Role.TRIAGER))
    response = client.post(_comments(finding), {"body": "First look: real issue"})
    assert response.status_code == 302
    assert response["Location"] == f"{_page(finding)}#comments"
    page = client.get(response["Location"]).content.decode()
    assert "First look: real issue" in _thread(page)
    assert "Comment added." in page


def test_comment_text_is_escaped_and_unknown_names_stay_plain(team, member, client_as, finding):
    member(Role.VIEWER, username="alice")
    client = client_as(member(Role.TRIAGER))
    payload = "<script>alert(1)</script> <img src=x onerror=alert(2)> @alice @mallory\nnext"
    client.post(_comments(finding), {"body": payload})

    thread = _thread(client.get(_page(finding)).content.decode())
    assert "<script>" not in thread and "<img" not in thread
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in thread
    assert '<strong class="mention">@alice</strong> @mallory<br>next' in thread


def test_bad_input_is_said_in_the_thread_and_keeps_the_text(team, member, client_as, finding):
    client = client_as(member(Role.TRIAGER))
    too_long = "y" * 4001

    fragment = client.post(_comments(finding), {"body": too_long}, **HTMX)
    assert fragment.status_code == 200  # htmx swaps only a 2xx answer
    assert "at most 4,000 characters" in fragment.content.decode()
    assert too_long in fragment.content.decode()

    page = client.post(_comments(finding), {"body": too_long})
    assert page.status_code == 400
    assert "at most 4,000 characters" in page.content.decode()
    assert f"{too_long}</textarea>" in page.content.decode()

    empty = client.post(_comments(finding), {"body": "   "}, **HTMX)
    assert "Write a comment first." in empty.content.decode()
    assert not FindingComment.objects.exists()


def test_viewers_read_the_thread_but_get_no_form_and_403_on_post(team, member, client_as, finding):
    finding_comment_add(team=team, actor=member(Role.TRIAGER), finding=finding, body="Noted")
    viewer = client_as(member(Role.VIEWER))
    page = viewer.get(_page(finding)).content.decode()
    assert "Noted" in _thread(page)
    assert 'id="comment-form"' not in page
    assert viewer.post(_comments(finding), {"body": "me too"}).status_code == 403
    assert viewer.post(_comments(finding), {"body": "me too"}, **HTMX).status_code == 403
    assert FindingComment.objects.count() == 1


def test_another_teams_finding_answers_404(team, other_team, member, client_as):
    foreign = FindingFactory(repository=RepositoryFactory(team=other_team))
    finding_comment_add(
        team=other_team,
        actor=member(Role.TRIAGER, of=other_team),
        finding=foreign,
        body="Their secret plan",
    )
    client = client_as(member(Role.ADMIN))
    url = reverse("finding-comments", kwargs={"team_slug": team.slug, "finding_id": foreign.pk})
    for response in (
        client.get(url, **HTMX),
        client.post(url, {"body": "hello"}),
        client.post(url, {"body": "hello"}, **HTMX),
    ):
        assert response.status_code == 404
        assert b"Their secret plan" not in response.content
    assert FindingComment.objects.count() == 1


def test_the_thread_url_opened_as_a_page_leads_to_the_finding(team, member, client_as, finding):
    client = client_as(member(Role.VIEWER))
    response = client.get(_comments(finding))
    assert response.status_code == 302 and response["Location"] == _page(finding)
    fragment = client.get(_comments(finding), **HTMX)
    assert fragment.status_code == 200 and 'id="comments"' in fragment.content.decode()


def test_a_post_without_csrf_token_is_refused(team, member, client_as, finding):
    client = client_as(member(Role.TRIAGER), enforce_csrf_checks=True)
    assert client.post(_comments(finding), {"body": "hi"}).status_code == 403
    assert not FindingComment.objects.exists()
