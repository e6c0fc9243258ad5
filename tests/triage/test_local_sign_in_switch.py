"""PORTAL_LOCAL_SIGN_IN off: passwords sign in only the break-glass users."""

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from tests.factories import TEST_PASSWORD, UserFactory
from triage import sign_in


@pytest.fixture(autouse=True)
def _local_sign_in_off(settings):
    settings.PORTAL_LOCAL_SIGN_IN = False
    settings.PORTAL_BREAK_GLASS_USERS = ["Keeper"]
    keys = [sign_in._key(name) for name in ("alice", "keeper")]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


def _sign_in(username):
    client = Client()
    response = client.post(reverse("login"), {"username": username, "password": TEST_PASSWORD})
    return client, response


def test_a_password_is_refused_with_a_clear_message(db):
    UserFactory(username="alice")
    client, response = _sign_in("alice")
    assert response.status_code == 200
    assert "use single sign-on" in response.content.decode()
    assert client.get(reverse("preferences")).status_code == 302
    # Refusals are not guesses: they do not slow the account down.
    assert cache.get(sign_in._key("alice")) is None


def test_a_break_glass_user_still_signs_in(db):
    UserFactory(username="keeper")
    client, response = _sign_in("keeper")
    assert response.status_code == 302
    assert client.get(reverse("preferences")).status_code == 200


def test_only_break_glass_users_get_a_reset_link(db, smtp_server):
    UserFactory(username="alice", email="alice@example.com")
    UserFactory(username="keeper", email="keeper@example.com")
    for address in ("alice@example.com", "keeper@example.com"):
        Client().post(reverse("password_reset"), {"email": address})
    [message] = smtp_server.wait_for(1)
    assert message["To"] == "keeper@example.com"
    assert len(smtp_server.wait_for(2, seconds=1)) == 1
