"""Single sign-on against a real OpenID Connect provider (oidc-provider, see conftest)."""

import pytest
from django.contrib.auth import get_user_model

from tests.factories import TEST_PASSWORD, TeamFactory, UserFactory
from tests.oidc.conftest import portal_path
from triage.models import (
    AuditEvent,
    GroupRoleMapping,
    Membership,
    MembershipSource,
    Role,
    SsoIdentity,
)

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
    created = AuditEvent.objects.get(action="user.sso_create")
    assert (created.actor, created.details) == (user, {"issuer": provider.issuer, "subject": "ada"})
    # Signed in: the home page sends the user on to their team's dashboard.
    dashboard = client.get("/", follow=True)
    assert dashboard.status_code == 200
    assert dashboard.context["current_role"] == Role.ADMIN


def test_roles_follow_the_groups_at_every_sign_in(
    client, provider, provider_browser, security_team
):
    ops = TeamFactory(slug="ops", name="Ops")
    GroupRoleMapping.objects.create(group="staff", team=ops, role=Role.VIEWER)
    sign_in(client, provider_browser, "tom")
    tom = get_user_model().objects.get(username="tom")
    assert roles_of(tom) == {"security": Role.TRIAGER, "ops": Role.VIEWER}

    # Promoted at the provider, and out of the staff group: a higher role, one team less.
    provider.set_groups("tom", ["sec-triage", "sec-admins"])
    client.post("/logout/")
    sign_in(client, provider_browser, "tom")
    assert roles_of(tom) == {"security": Role.ADMIN}
    assert SsoIdentity.objects.get(user=tom).groups == ["sec-admins", "sec-triage"]
    actions = list(
        AuditEvent.objects.filter(action__startswith="member.sso").values_list("action", "team")
    )
    assert sorted(actions) == sorted(
        [
            ("member.sso_grant", security_team.pk),
            ("member.sso_grant", ops.pk),
            ("member.sso_role_change", security_team.pk),
            ("member.sso_revoke", ops.pk),
        ]
    )

    # Out of every mapped group: the last role goes too, and the sign-in is refused.
    provider.set_groups("tom", ["staff-alumni"])
    client.post("/logout/")
    response = sign_in(client, provider_browser, "tom")
    assert response.status_code == 403
    assert roles_of(tom) == {}
    assert not response.wsgi_request.user.is_authenticated
    assert AuditEvent.objects.filter(action="member.sso_revoke", team=security_team).exists()


def test_a_membership_given_by_hand_is_kept_and_marked(
    client, provider, provider_browser, security_team
):
    sign_in(client, provider_browser, "tom")
    tom = get_user_model().objects.get(username="tom")
    ops = TeamFactory(slug="ops", name="Ops")
    Membership.objects.create(team=ops, user=tom, role=Role.APPROVER)
    # An admin sets the security role by hand: the groups do not change it any more.
    Membership.objects.filter(team=security_team, user=tom).update(
        role=Role.VIEWER, source=MembershipSource.MANUAL
    )
    provider.set_groups("tom", ["staff"])
    client.post("/logout/")

    response = sign_in(client, provider_browser, "tom")

    assert response.status_code == 302
    assert roles_of(tom) == {"security": Role.VIEWER, "ops": Role.APPROVER}
    assert set(Membership.objects.filter(user=tom).values_list("source", flat=True)) == {
        MembershipSource.MANUAL
    }


def test_the_profile_shows_the_groups_last_received_and_what_they_map_to(
    client, provider, provider_browser, security_team
):
    sign_in(client, provider_browser, "tom")

    page = client.get("/account/preferences/")

    assert page.status_code == 200
    text = page.content.decode()
    assert "sec-triage" in text and "Security: Triager" in text
    assert "staff" in text and "Nothing in this portal" in text
    assert "From identity-provider groups" in text


def test_sign_out_ends_the_session_and_the_providers(
    client, provider, provider_browser, security_team
):
    sign_in(client, provider_browser, "ada")
    id_token = client.session["oidc_id_token"]

    response = client.post("/logout/")

    assert response.status_code == 302
    end_session = response["Location"]
    assert end_session.startswith(f"{provider.issuer}/session/end?")
    assert f"id_token_hint={id_token}" in end_session
    assert "post_logout_redirect_uri=http%3A%2F%2Ftestserver%2Flogin%2F" in end_session
    assert client.get("/")["Location"].startswith("/login/")
    # The provider accepts the hint and sends the browser back to the portal's sign-in page.
    back = provider_browser.visit(end_session, "ada")
    assert portal_path(back).startswith("/login/")


def test_local_sign_in_and_sign_out_are_unchanged(client, provider, security_team):
    user = UserFactory(username="local-admin")
    Membership.objects.create(team=security_team, user=user, role=Role.ADMIN)
    page = client.get("/login/")
    assert "Sign in with your company account" in page.content.decode()

    response = client.post("/login/", {"username": "local-admin", "password": TEST_PASSWORD})
    assert response.status_code == 302
    response = client.post("/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/login/"


def test_without_an_issuer_the_sign_in_page_offers_no_single_sign_on(client, db, settings):
    settings.PORTAL_OIDC_ISSUER = ""
    assert "company account" not in client.get("/login/").content.decode()
    response = client.get("/sso/login/")
    assert response.status_code == 404
    assert b"not set up" in response.content


def test_next_is_kept_on_the_site_and_dropped_elsewhere(
    client, provider, provider_browser, security_team
):
    response = sign_in(client, provider_browser, "ada", "/sso/login/?next=/account/preferences/")
    assert response["Location"] == "/account/preferences/"
    client.post("/logout/")

    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example/"):
        response = sign_in(client, provider_browser, "ada", f"/sso/login/?next={target}")
        assert response["Location"] == "/", target
        client.post("/logout/")


def roles_of(user) -> dict:
    return dict(Membership.objects.filter(user=user).values_list("team__slug", "role"))


def test_the_members_page_shows_the_teams_groups_and_who_came_from_them(
    client, provider, provider_browser, security_team
):
    sign_in(client, provider_browser, "ada")

    page = client.get(f"/t/{security_team.slug}/settings/members/")

    text = page.content.decode()
    assert page.status_code == 200
    assert "Identity-provider groups" in text and "sec-triage" in text
    assert "from identity-provider groups" in text


def test_an_admins_hand_set_role_is_no_longer_changed_by_groups(
    client, provider, provider_browser, security_team
):
    from triage.services.teams import member_set

    admin = UserFactory(username="local-admin")
    Membership.objects.create(team=security_team, user=admin, role=Role.ADMIN)
    sign_in(client, provider_browser, "tom")
    client.post("/logout/")

    member_set(team=security_team, actor=admin, username="tom", role=Role.APPROVER)

    tom = Membership.objects.get(user__username="tom")
    assert (tom.role, tom.source) == (Role.APPROVER, MembershipSource.MANUAL)
    sign_in(client, provider_browser, "tom")
    tom.refresh_from_db()
    assert (tom.role, tom.source) == (Role.APPROVER, MembershipSource.MANUAL)


def test_an_operator_maps_a_group_from_the_command_line(db):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("sso_map_group", "sec-admins", "platform", "admin", stdout=out)
    call_command("sso_map_group", "sec-admins", "platform", "viewer", stdout=out)

    mapping = GroupRoleMapping.objects.get(group="sec-admins")
    assert (mapping.team.slug, mapping.role) == ("platform", Role.VIEWER)
    assert list(
        AuditEvent.objects.filter(action__startswith="group_mapping").values_list(
            "action", flat=True
        )
    ) == ["group_mapping.change", "group_mapping.create"]
