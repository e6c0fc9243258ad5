"""Single sign-on that cannot sign anyone in: each case answers with a page saying why, and
nothing is created half-way. Against the real provider of conftest."""

import logging
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation

from tests.factories import UserFactory
from tests.oidc.conftest import (
    CLIENT_ID,
    OTHER_CLIENT_ID,
    OTHER_CLIENT_SECRET,
    portal_path,
)
from tests.oidc.test_sign_in import sign_in
from triage.models import AuditEvent, Membership, SsoIdentity
from triage.oidc import provider as oidc_provider
from triage.oidc.backend import SsoBackend

pytestmark = pytest.mark.django_db


def nothing_created(users_before: int) -> None:
    assert get_user_model().objects.count() == users_before
    assert not SsoIdentity.objects.exists()
    assert not Membership.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="member.").exists()


def assert_failure_page(response, status: int, reason: str) -> None:
    assert response.status_code == status, response.content[:500]
    text = response.content.decode()
    assert f'data-reason="{reason}"' in text
    assert "Traceback" not in text
    assert not response.wsgi_request.user.is_authenticated


def test_forged_state_is_refused(client, provider, provider_browser, security_team):
    start = client.get("/sso/login/")
    back = provider_browser.visit(start["Location"], "ada")
    query = parse_qs(urlsplit(back).query)

    response = client.get(f"/sso/callback/?code={query['code'][0]}&state=forged-state")

    assert_failure_page(response, 400, "state")
    nothing_created(0)


def test_a_callback_without_a_sign_in_started_in_this_browser_is_refused(
    client, provider, provider_browser, security_team
):
    start = client.get("/sso/login/")
    back = provider_browser.visit(start["Location"], "ada")
    client.cookies.clear()

    assert_failure_page(client.get(portal_path(back)), 400, "state")
    nothing_created(0)


def test_a_replayed_callback_and_a_used_code_are_refused(
    client, django_user_model, provider, provider_browser, security_team
):
    start = client.get("/sso/login/")
    back = provider_browser.visit(start["Location"], "ada")
    assert client.get(portal_path(back)).status_code == 302
    client.post("/logout/")

    # The same answer again: its state was used up by the first.
    assert_failure_page(client.get(portal_path(back)), 400, "state")
    # Its code with the state of a new sign-in: the provider will not take the code twice.
    fresh = parse_qs(urlsplit(client.get("/sso/login/")["Location"]).query)["state"][0]
    code = parse_qs(urlsplit(back).query)["code"][0]
    response = client.get(f"/sso/callback/?code={code}&state={fresh}")
    assert_failure_page(response, 400, "provider_refused")
    assert django_user_model.objects.count() == 1


def test_a_sign_in_cancelled_at_the_provider(client, provider, security_team):
    state = parse_qs(urlsplit(client.get("/sso/login/")["Location"]).query)["state"][0]

    response = client.get(f"/sso/callback/?error=access_denied&state={state}")

    assert_failure_page(response, 403, "denied")
    nothing_created(0)


def test_a_provider_naming_another_issuer_is_refused(client, provider, settings, security_team):
    # The same provider reached by another name: its discovery document names its own.
    settings.PORTAL_OIDC_ISSUER = provider.issuer.replace("127.0.0.1", "localhost")

    assert_failure_page(client.get("/sso/login/"), 502, "wrong_issuer")
    nothing_created(0)


def test_an_answer_naming_another_issuer_is_refused(
    client, provider, provider_browser, security_team
):
    start = client.get("/sso/login/")
    back = provider_browser.visit(start["Location"], "ada")
    forged = portal_path(back).replace("iss=http", "iss=https")
    assert forged != portal_path(back)

    assert_failure_page(client.get(forged), 502, "wrong_issuer")
    nothing_created(0)


def test_a_code_for_another_client_is_refused(
    client, provider, provider_browser, settings, security_team
):
    start = client.get("/sso/login/")
    back = provider_browser.visit(start["Location"], "ada")
    settings.OIDC_RP_CLIENT_ID = OTHER_CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = OTHER_CLIENT_SECRET

    assert_failure_page(client.get(portal_path(back)), 400, "provider_refused")
    nothing_created(0)


def test_an_id_token_for_another_client_fails_verification(
    client, provider, provider_browser, settings, security_team
):
    """A real ID token the provider signed for another application is not taken as ours."""
    settings.OIDC_RP_CLIENT_ID = OTHER_CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = OTHER_CLIENT_SECRET
    sign_in(client, provider_browser, "ada")
    other_token = client.session["oidc_id_token"]
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID

    backend = SsoBackend()
    backend.metadata = oidc_provider.discover()
    backend.OIDC_OP_JWKS_ENDPOINT = backend.metadata.jwks_uri
    backend.OIDC_RP_CLIENT_ID = CLIENT_ID
    key = backend.retrieve_matching_jwk(other_token)
    with pytest.raises(SuspiciousOperation, match="another client"):
        backend._verify_jws(other_token, key)
    # The same token passes for the application it was issued to.
    backend.OIDC_RP_CLIENT_ID = OTHER_CLIENT_ID
    assert backend._verify_jws(other_token, key)["sub"] == "ada"
    # ...and not for an application expecting another issuer.
    backend.metadata = oidc_provider.ProviderMetadata(
        **{**backend.metadata.__dict__, "issuer": "https://idp.example"}
    )
    with pytest.raises(SuspiciousOperation, match="another issuer"):
        backend._verify_jws(other_token, key)


def test_a_provider_that_is_down(client, provider, provider_browser, security_team):
    provider.stop()
    assert_failure_page(client.get("/sso/login/"), 502, "provider_unavailable")

    # Down between the start and the return.
    provider.start()
    start = client.get("/sso/login/")
    back = provider_browser.visit(start["Location"], "ada")
    provider.stop()
    assert_failure_page(client.get(portal_path(back)), 502, "provider_unavailable")
    nothing_created(0)


def test_a_provider_outside_the_outbound_rules_is_not_contacted(
    client, provider, settings, security_team
):
    settings.PORTAL_OUTBOUND_ALLOWED_NETWORKS = []

    assert_failure_page(client.get("/sso/login/"), 502, "provider_unavailable")


def test_an_email_of_another_user_creates_nothing(
    client, django_user_model, provider, provider_browser, security_team
):
    UserFactory(username="tom-local", email="Tom@Example.com")

    response = sign_in(client, provider_browser, "tom")

    assert_failure_page(response, 409, "email_taken")
    nothing_created(1)


def test_a_user_with_no_mapped_group_creates_nothing(
    client, provider, provider_browser, security_team
):
    response = sign_in(client, provider_browser, "nog")

    assert_failure_page(response, 403, "no_group")
    nothing_created(0)


def test_no_token_or_code_reaches_the_log(
    client, provider, provider_browser, security_team, caplog
):
    start = client.get("/sso/login/")
    back = provider_browser.visit(start["Location"], "ada")
    # From here on, what the portal logs (the browser's own requests above carry the code).
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    assert client.get(portal_path(back)).status_code == 302
    id_token = client.session["oidc_id_token"]
    client.post("/logout/")
    client.get(portal_path(back))  # refused: replayed

    code = parse_qs(urlsplit(back).query)["code"][0]
    assert id_token not in caplog.text
    assert code not in caplog.text
    assert "test-client-secret" not in caplog.text


def test_the_discovery_document_is_reused_and_a_failure_is_not(
    client, provider, settings, security_team
):
    from django.core.cache import cache

    cache.clear()
    settings.PORTAL_OIDC_DISCOVERY_CACHE_SECONDS = 300
    provider.stop()
    assert_failure_page(client.get("/sso/login/"), 502, "provider_unavailable")
    provider.start()
    assert client.get("/sso/login/").status_code == 302
    provider.stop()
    # Read once: starting to sign in does not fetch it again.
    assert client.get("/sso/login/")["Location"].startswith(provider.issuer)
    cache.clear()


def test_a_deactivated_user_loses_their_session(client, provider, provider_browser, security_team):
    sign_in(client, provider_browser, "ada")
    get_user_model().objects.filter(username="ada").update(is_active=False)

    assert client.get("/account/preferences/")["Location"].startswith("/login/")
    client.cookies.clear()
    assert_failure_page(sign_in(client, provider_browser, "ada"), 403, "inactive")
