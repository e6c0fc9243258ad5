"""Single sign-on against a real OpenID Connect provider (oidc-provider, see conftest)."""

import pytest
from django.contrib.auth import get_user_model

from tests.oidc.conftest import portal_path
from triage.models import AuditEvent, Membership, MembershipSource, Role, SsoIdentity

pytestmark = pytest.mark.django_db


def sign_in(client, browser, login: str, start: str = "/sso/login/"):
    """Start at the portal, sign in at the provider's own login page, and come back."""
    response = client.get(start)
    assert response.status_code == 302, response.content[:300]
    back = browser.visit(response["Location"], login)
    return client.get(portal_path(back))


def test_first_sign_in_creates_the_user_with_the_mapped_role(
    client, provider, provider_browser, security_team
):
    response = sign_in(client, provider_browser, "ada")

    assert response.status_code == 302
    assert response["Location"] == "/"
    user = get_user_model().objects.get(email="ada@example.com")
    assert user.username == "ada"
    assert not user.has_usable_password()
    membership = Membership.objects.get(user=user)
    assert (membership.team, membership.role, membership.source) == (
        security_team,
        Role.ADMIN,
        MembershipSource.SSO,
    )
    identity = SsoIdentity.objects.get(user=user)
    assert (identity.issuer, identity.subject, identity.groups) == (
        provider.issuer,
        "ada",
        ["sec-admins"],
    )
    assert AuditEvent.objects.filter(action="member.sso_grant", team=security_team).count() == 1
    # Signed in: the home page sends the user on to their team's dashboard.
    dashboard = client.get("/", follow=True)
    assert dashboard.status_code == 200
    assert dashboard.context["current_role"] == Role.ADMIN
