"""Members invited by email: an admin invites an address, a task on the mail queue sends the
link over real SMTP, the person signs in through the link and joins with the invited role.
Expired, revoked, used and unknown links get a page that says so."""

import re
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.celery import app
from tests.factories import UserFactory
from tests.smtp_fixtures import free_port
from triage import tasks
from triage.models import AuditEvent, Invitation, Membership, Role
from triage.task_queue import TaskName

LINK = re.compile(r"https?://\S+/invitations/\S+/")


@pytest.fixture
def sent(monkeypatch):
    """Invitation ids queued for the mail task (the tests run the task themselves)."""
    ids: list[int] = []
    monkeypatch.setattr(tasks.send_invitation_email, "delay", ids.append)
    return ids


def _members_url(team):
    return reverse("settings-members", kwargs={"team_slug": team.slug})


def _invite(client, team, capture, email="new.person@example.com", role="triager"):
    with capture(execute=True):
        return client.post(
            _members_url(team),
            {"action": "invite", "invite-email": email, "invite-role": role},
        )


def _link_of(message) -> str:
    return LINK.search(message.get_content()).group(0)


def test_an_invited_person_follows_the_emailed_link_signs_in_and_joins(
    team, admin, client_as, sent, smtp_server, settings, django_capture_on_commit_callbacks
):
    settings.PORTAL_BASE_URL = "https://portal.example.com"
    response = _invite(client_as(admin), team, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert len(sent) == 1

    assert tasks.send_invitation_email(sent[0]) == "sent"

    [message] = smtp_server.wait_for(1)
    assert message["To"] == "new.person@example.com"
    assert message["Subject"] == "Join Blue Team in the Triage Portal"
    assert "as Triager" in message.get_content()
    link = _link_of(message)
    assert link.startswith("https://portal.example.com/invitations/")
    path = link.removeprefix("https://portal.example.com")
    token = path.split("/")[2]
    invitation = Invitation.objects.get(team=team)
    assert invitation.email_sent_at is not None
    # Only the token's hash is stored.
    assert token not in {invitation.token_hash, invitation.salt}
    assert invitation.token_hash == __import__("hashlib").sha256(token.encode()).hexdigest()

    anonymous = Client()
    to_sign_in = anonymous.get(path)
    assert to_sign_in.status_code == 302
    assert to_sign_in["Location"] == f"{reverse('login')}?next={path}"

    newcomer = UserFactory(username="nora", email="new.person@example.com")
    newcomer.set_password("a long enough password 42")
    newcomer.save()
    signed_in = anonymous.post(
        to_sign_in["Location"],
        {"username": "nora", "password": "a long enough password 42", "next": path},
    )
    assert signed_in.status_code == 302 and signed_in["Location"] == path
    page = anonymous.get(path)
    assert page.status_code == 200
    assert "Join Blue Team as Triager" in page.content.decode()

    joined = anonymous.post(path)

    assert joined.status_code == 302
    assert joined["Location"] == reverse("dashboard", kwargs={"team_slug": team.slug})
    assert Membership.objects.get(team=team, user=newcomer).role == Role.TRIAGER
    invitation.refresh_from_db()
    assert invitation.accepted_by == newcomer and invitation.accepted_at is not None
    assert list(
        AuditEvent.objects.filter(team=team).order_by("pk").values_list("action", flat=True)
    ) == ["member.invite", "member.invite_accept"]

    again = client_as(UserFactory()).get(path)
    assert again.status_code == 410
    assert "already been used" in again.content.decode()


def test_the_mail_task_runs_on_the_mail_queue():
    assert app.amqp.router.route({}, TaskName.SEND_INVITATION_EMAIL)["queue"].name == "mail"
    assert app.tasks[TaskName.SEND_INVITATION_EMAIL].name == tasks.send_invitation_email.name


@pytest.mark.parametrize(
    "spoil, status, words",
    [
        (
            lambda i: Invitation.objects.filter(pk=i.pk).update(
                expires_at=timezone.now() - timedelta(minutes=1)
            ),
            410,
            "This invitation has expired",
        ),
        (
            lambda i: Invitation.objects.filter(pk=i.pk).update(revoked_at=timezone.now()),
            410,
            "withdrawn by a team admin",
        ),
    ],
)
def test_expired_and_revoked_links_say_so(team, admin, client_as, spoil, status, words):
    from triage.services.invitations import invitation_create, invitation_token

    invitation = invitation_create(team=team, actor=admin, email="x@example.com", role=Role.VIEWER)
    path = reverse("invitation", kwargs={"token": invitation_token(invitation)})
    spoil(invitation)
    visitor = client_as(UserFactory())

    for response in (visitor.get(path), visitor.post(path)):
        assert response.status_code == status
        assert words in response.content.decode()
    assert not Membership.objects.filter(team=team, role=Role.VIEWER).exists()


@pytest.mark.parametrize("token", ["nope", "1-" + "0" * 64, "x" * 5000, "%00"])
def test_unknown_and_tampered_links_say_so(team, admin, client_as, token):
    from triage.services.invitations import invitation_create, invitation_token

    real = invitation_token(
        invitation_create(team=team, actor=admin, email="x@example.com", role=Role.ADMIN)
    )
    visitor = client_as(UserFactory())
    for candidate in (token, real[:-1] + ("0" if real[-1] != "0" else "1")):
        response = visitor.post(reverse("invitation", kwargs={"token": candidate}))
        assert response.status_code == 404
        assert "not valid" in response.content.decode()
    assert Membership.objects.filter(team=team).count() == 1


def test_a_member_cannot_use_an_invitation_twice_over(team, admin, client_as):
    from triage.services.invitations import invitation_create, invitation_token

    invitation = invitation_create(team=team, actor=admin, email="x@example.com", role=Role.ADMIN)
    path = reverse("invitation", kwargs={"token": invitation_token(invitation)})
    response = client_as(admin).post(path, follow=True)
    assert "already a member of Blue Team" in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


@pytest.mark.parametrize(
    "email, words",
    [
        ("", "Enter the email address to invite."),
        ("not-an-address", "Enter an email address, such as ana@example.com."),
        ("a@" + "b" * 300 + ".com", "Ensure this value has at most 254 characters"),
    ],
)
def test_bad_addresses_are_refused_in_the_words_of_the_form(
    team, admin, client_as, sent, django_capture_on_commit_callbacks, email, words
):
    response = _invite(client_as(admin), team, django_capture_on_commit_callbacks, email=email)
    assert response.status_code == 400
    assert words in response.content.decode()
    assert not Invitation.objects.exists() and sent == []


def test_a_second_invitation_to_a_waiting_address_is_refused_then_allowed_after_revoking(
    team, admin, client_as, sent, django_capture_on_commit_callbacks
):
    client = client_as(admin)
    _invite(client, team, django_capture_on_commit_callbacks, email="Dup@Example.com")
    second = _invite(client, team, django_capture_on_commit_callbacks, email="dup@example.com")
    assert second.status_code == 400
    assert "still waiting" in second.content.decode()
    assert 'value="dup@example.com"' in second.content.decode()  # what was typed stays

    first = Invitation.objects.get(team=team)
    client.post(_members_url(team), {"action": "revoke_invitation", "invitation": first.pk})
    first.refresh_from_db()
    assert first.revoked_at is not None
    assert (
        _invite(
            client, team, django_capture_on_commit_callbacks, email="dup@example.com"
        ).status_code
        == 302
    )
    assert Invitation.objects.filter(team=team).count() == 2
    assert AuditEvent.objects.filter(action="member.invite_revoke").count() == 1


def test_a_mail_server_that_refuses_is_shown_and_the_invitation_can_be_sent_again(
    team, admin, client_as, sent, settings, smtp_server, django_capture_on_commit_callbacks
):
    client = client_as(admin)
    _invite(client, team, django_capture_on_commit_callbacks)
    good_port = settings.EMAIL_PORT
    settings.EMAIL_PORT = free_port()  # nothing listens there

    assert tasks.send_invitation_email(sent[0]) == "failed"

    page = client.get(_members_url(team)).content.decode()
    assert "Not delivered: The mail server did not take the email" in page
    settings.EMAIL_PORT = good_port
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_members_url(team), {"action": "resend_invitation", "invitation": sent[0]})
    assert sent == [sent[0], sent[0]]
    assert tasks.send_invitation_email(sent[1]) == "sent"
    assert len(smtp_server.wait_for(1)) == 1
    assert "Not delivered" not in client.get(_members_url(team)).content.decode()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.TRIAGER, Role.APPROVER])
def test_only_admins_invite_and_see_invitations(
    team, member, admin, client_as, sent, role, django_capture_on_commit_callbacks
):
    from triage.services.invitations import invitation_create

    invitation_create(team=team, actor=admin, email="seen@example.com", role=Role.VIEWER)
    client = client_as(member(role))
    assert "seen@example.com" not in client.get(_members_url(team)).content.decode()
    assert _invite(client, team, django_capture_on_commit_callbacks).status_code == 403
    invitation = Invitation.objects.get()
    revoke = {"action": "revoke_invitation", "invitation": invitation.pk}
    assert client.post(_members_url(team), revoke).status_code == 403
    assert Invitation.objects.count() == 1


def test_another_teams_invitation_cannot_be_revoked(team, other_team, member, client_as):
    from triage.services.invitations import invitation_create

    theirs_admin = member(Role.ADMIN, of=other_team)
    theirs = invitation_create(
        team=other_team, actor=theirs_admin, email="v@example.com", role=Role.VIEWER
    )
    client = client_as(member(Role.ADMIN))
    client.post(_members_url(team), {"action": "revoke_invitation", "invitation": theirs.pk})
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_invitation_days_come_from_settings():
    assert django_settings.PORTAL_INVITATION_DAYS == 7


def test_a_link_mailed_after_a_secret_key_rotation_still_works(
    team, admin, client_as, sent, settings, smtp_server, django_capture_on_commit_callbacks
):
    _invite(client_as(admin), team, django_capture_on_commit_callbacks)
    settings.SECRET_KEY = "another secret key, rotated since the invitation was made"

    assert tasks.send_invitation_email(sent[0]) == "sent"

    path = "/" + _link_of(smtp_server.wait_for(1)[0]).split("/", 3)[3]
    joined = client_as(UserFactory(email="new.person@example.com")).post(path)
    assert joined.status_code == 302
    assert Invitation.objects.get().accepted_at is not None


def test_only_the_addressee_can_accept_a_forwarded_link(team, admin, client_as):
    from triage.services.invitations import invitation_create, invitation_token

    invitation = invitation_create(
        team=team, actor=admin, email="Nora@Example.com", role=Role.APPROVER
    )
    path = reverse("invitation", kwargs={"token": invitation_token(invitation)})
    mallory = client_as(UserFactory(username="mallory", email="mallory@example.com"))

    page = mallory.get(path).content.decode()
    assert "This invitation was sent to Nora@Example.com" in page
    assert "mallory@example.com" in page and "accept-invitation" not in page
    refused = mallory.post(path, follow=True).content.decode()
    assert "Sign in with the account of that address" in refused
    invitation.refresh_from_db()
    assert invitation.accepted_at is None
    assert not Membership.objects.filter(team=team, user__username="mallory").exists()
    assert not AuditEvent.objects.filter(action="member.invite_accept").exists()

    # The addressee's account, whatever the case of its address, joins.
    nora = UserFactory(username="nora", email="nora@example.com")
    assert client_as(nora).post(path).status_code == 302
    assert Membership.objects.get(team=team, user=nora).role == Role.APPROVER
