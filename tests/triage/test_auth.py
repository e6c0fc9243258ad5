import time

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from tests.factories import TEST_PASSWORD, UserFactory
from triage.middleware import SESSION_REFRESHED_KEY, SESSION_STARTED_KEY
from triage.models import Role


def test_every_page_but_login_and_healthz_needs_sign_in(team, db):
    client = Client()

    assert client.get(reverse("login")).status_code == 200
    assert client.get(reverse("healthz")).status_code in {200, 503}
    response = client.get(reverse("dashboard", kwargs={"team_slug": team.slug}))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_htmx_fragment_without_session_answers_401_with_redirect(team, db):
    response = Client().get(
        reverse("dashboard", kwargs={"team_slug": team.slug}), headers={"HX-Request": "true"}
    )

    assert response.status_code == 401
    assert response["HX-Redirect"] == reverse("login")


def test_sign_in_and_out(team, member):
    user = member(Role.VIEWER, username="vera")
    client = Client()

    response = client.post(reverse("login"), {"username": "vera", "password": TEST_PASSWORD})
    assert response.status_code == 302
    session_key = client.session.session_key
    assert client.get(reverse("dashboard", kwargs={"team_slug": team.slug})).status_code == 200

    client.post(reverse("logout"))

    from django.contrib.sessions.models import Session

    assert not Session.objects.filter(session_key=session_key).exists()
    assert user.is_authenticated  # the user object itself stays valid; the session is gone
    again = client.get(reverse("dashboard", kwargs={"team_slug": team.slug}))
    assert again.status_code == 302


def test_login_locks_account_and_address_after_repeated_failures(db):
    UserFactory(username="mallory-target")
    client = Client()
    for _ in range(5):
        client.post(reverse("login"), {"username": "mallory-target", "password": "wrong"})

    locked = client.post(
        reverse("login"), {"username": "mallory-target", "password": TEST_PASSWORD}
    )

    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    # Another account from the same address is not locked by the first one's failures.
    UserFactory(username="bystander")
    ok = Client().post(reverse("login"), {"username": "bystander", "password": TEST_PASSWORD})
    assert ok.status_code == 302


def test_wrong_password_gets_a_clear_message(db):
    UserFactory(username="sam")

    response = Client().post(reverse("login"), {"username": "sam", "password": "nope"})

    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


@override_settings(PORTAL_SESSION_ABSOLUTE_SECONDS=60)
def test_session_ends_after_the_absolute_lifetime(team, member, client_as):
    client = client_as(member(Role.VIEWER))
    url = reverse("dashboard", kwargs={"team_slug": team.slug})
    assert client.get(url).status_code == 200

    session = client.session
    session[SESSION_STARTED_KEY] = time.time() - 61
    session.save()

    response = client.get(url)
    assert response.status_code == 302
    assert reverse("login") in response["Location"]
    assert client.get(url).status_code == 302  # signed out for good


def test_idle_sessions_expire(settings):
    assert settings.SESSION_COOKIE_AGE == settings.PORTAL_SESSION_IDLE_SECONDS
    assert settings.PORTAL_SESSION_IDLE_SECONDS < settings.PORTAL_SESSION_ABSOLUTE_SECONDS
    assert settings.PORTAL_SESSION_REFRESH_SECONDS < settings.PORTAL_SESSION_IDLE_SECONDS / 10


def test_the_idle_expiry_slides_at_most_once_a_refresh_interval(team, member, client_as):
    from django.contrib.sessions.models import Session

    client = client_as(member(Role.VIEWER))
    url = reverse("dashboard", kwargs={"team_slug": team.slug})
    assert client.get(url).status_code == 200
    key = client.session.session_key
    first = Session.objects.get(session_key=key).expire_date

    quiet = client.get(url)
    assert quiet.status_code == 200
    assert Session.objects.get(session_key=key).expire_date == first  # no write per view
    assert "sessionid" not in quiet.cookies

    session = client.session
    session[SESSION_REFRESHED_KEY] = time.time() - 61
    session.save()
    saved = Session.objects.get(session_key=key).expire_date
    time.sleep(0.01)
    response = client.get(url)
    assert response.status_code == 200
    assert Session.objects.get(session_key=key).expire_date > saved
    assert response.cookies["sessionid"].value == key  # the cookie is issued again


@pytest.mark.parametrize("htmx", [True, False])
def test_posts_without_csrf_token_are_refused(team, member, client_as, htmx):
    client = client_as(member(Role.ADMIN), enforce_csrf_checks=True)
    headers = {"HX-Request": "true"} if htmx else {}

    response = client.post(
        reverse("settings-members", kwargs={"team_slug": team.slug}),
        {"action": "add", "username": "x", "role": "viewer"},
        headers=headers,
    )

    assert response.status_code == 403
    assert "security token" in response.content.decode()


def test_htmx_post_with_the_token_from_hx_headers_is_accepted(team, member, client_as):
    admin = member(Role.ADMIN)
    UserFactory(username="newbie")
    client = client_as(admin, enforce_csrf_checks=True)
    page = client.get(reverse("settings-members", kwargs={"team_slug": team.slug}))
    token = page.context["csrf_token"]
    assert f'"X-CSRFToken": "{token}"' in page.content.decode()

    response = client.post(
        reverse("settings-members", kwargs={"team_slug": team.slug}),
        {"action": "add", "username": "newbie", "role": "viewer"},
        headers={"HX-Request": "true", "X-CSRFToken": str(token)},
    )

    assert response.status_code == 302
    assert team.memberships.filter(user__username="newbie").exists()
