"""Password reset by email for local accounts, delivered over real SMTP."""

import re

from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory
from triage.models import SsoIdentity

NEW_PASSWORD = "a-new-long-passphrase-42"


def _link_in(message) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    return re.search(r"https?://[^/\s]+(/account/password/reset/\S+/)", body).group(1)


def test_a_local_account_resets_its_password_by_email(db, smtp_server):
    user = UserFactory(username="alice", email="alice@example.com")
    client = Client()
    login = client.get(reverse("login")).content.decode()
    assert reverse("password_reset") in login

    sent = client.post(reverse("password_reset"), {"email": "alice@example.com"})
    assert sent.status_code == 302 and sent["Location"] == reverse("password_reset_done")
    [message] = smtp_server.wait_for(1)
    assert message["To"] == "alice@example.com"
    link = _link_in(message)

    form = client.get(link, follow=True)
    assert form.status_code == 200 and "Set a new password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert done.status_code == 302 and done["Location"] == reverse("password_reset_complete")
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)

    # The link works once.
    again = Client().get(link, follow=True)
    assert "used up or expired" in again.content.decode()


def test_an_unknown_address_and_a_single_sign_on_account_get_no_email(db, smtp_server):
    sso_user = UserFactory(username="bob", email="bob@example.com")
    SsoIdentity.objects.create(user=sso_user, issuer="https://idp.example", subject="bob")
    for address in ("nobody@example.com", "bob@example.com"):
        page = Client().post(reverse("password_reset"), {"email": address})
        # The same answer either way: the page does not tell which addresses have accounts.
        assert page.status_code == 302 and page["Location"] == reverse("password_reset_done")
    assert smtp_server.wait_for(1, seconds=1) == []


def test_a_forged_link_sets_nothing(db):
    user = UserFactory(username="alice", email="alice@example.com")
    page = Client().get(
        reverse("password_reset_confirm", kwargs={"uidb64": "MQ", "token": "forged-token"})
    )
    assert "used up or expired" in page.content.decode()
    user.refresh_from_db()
    assert not user.check_password(NEW_PASSWORD)


def test_bad_input_gets_a_clear_message(db):
    page = Client().post(reverse("password_reset"), {"email": "not an address"})
    assert page.status_code == 200 and "Enter a valid email address" in page.content.decode()
