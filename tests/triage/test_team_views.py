"""Role and team isolation for every team view, found from the URL resolver so that a view added
later is covered without touching this file."""

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from triage.models import Role

ROLES_BELOW = {
    Role.VIEWER: [],
    Role.TRIAGER: [Role.VIEWER],
    Role.APPROVER: [Role.VIEWER, Role.TRIAGER],
    Role.ADMIN: [Role.VIEWER, Role.TRIAGER, Role.APPROVER],
}


def _team_patterns():
    found = []

    def walk(patterns, prefix):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern) and "<slug:team_slug>" in prefix:
                found.append((prefix + str(pattern.pattern), pattern))

    walk(get_resolver().url_patterns, "")
    return found


TEAM_PATTERNS = _team_patterns()


def _url_for(pattern: URLPattern, team_slug: str) -> str:
    kwargs = {"team_slug": team_slug}
    for name in pattern.pattern.converters:
        kwargs[name] = 999999  # an id of no object: views must still check the team first
    return reverse(pattern.name, kwargs=kwargs)


def test_every_team_view_declares_its_roles():
    assert TEAM_PATTERNS, "no team URL found"
    for route, pattern in TEAM_PATTERNS:
        assert hasattr(pattern.callback, "team_roles"), f"{route} is not wrapped by @team_view"


@pytest.mark.parametrize("route,pattern", TEAM_PATTERNS, ids=[r for r, _ in TEAM_PATTERNS])
def test_team_view_isolation_and_roles(route, pattern, team, other_team, member, client_as):
    roles = pattern.callback.team_roles
    url = _url_for(pattern, team.slug)

    # Anonymous: sent to sign in.
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and reverse("login") in anonymous["Location"]

    # A member of another team, however senior, gets 404 for this team's URL.
    outsider = client_as(member(Role.ADMIN, of=other_team))
    assert outsider.get(url).status_code == 404
    assert outsider.post(url, {}).status_code == 404

    # Roles below what reading needs: 403.
    for role in ROLES_BELOW[Role(roles["read"])]:
        assert client_as(member(role)).get(url).status_code == 403, role

    # Roles that may read but not write: POST refused with 403.
    for role in ROLES_BELOW[Role(roles["write"])]:
        if Role(role).includes(roles["read"]):
            assert client_as(member(role)).post(url, {}).status_code == 403, role


@pytest.mark.parametrize(
    "area", ["dashboard", "scans", "findings", "fixes", "approvals", "reports"]
)
def test_navigation_pages_render_for_a_viewer(area, team, member, client_as):
    response = client_as(member(Role.VIEWER)).get(reverse(area, kwargs={"team_slug": team.slug}))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Blue Team" in body
    for label in ["Dashboard", "Scans", "Findings", "Fixes", "Approvals", "Reports", "Settings"]:
        assert f">{label}</a>" in body


def test_team_switcher_lists_only_the_users_teams(team, other_team, member, client_as):
    from tests.factories import MembershipFactory, TeamFactory

    user = member(Role.VIEWER)
    MembershipFactory(user=user, team=TeamFactory(slug="green", name="Green Team"))

    body = client_as(user).get(reverse("dashboard", kwargs={"team_slug": team.slug})).content
    body = body.decode()

    assert "Green Team" in body
    assert "Red Team" not in body


def test_unknown_team_slug_answers_404(member, client_as):
    user = member(Role.ADMIN)
    response = client_as(user).get(reverse("dashboard", kwargs={"team_slug": "no-such-team"}))
    assert response.status_code == 404


def test_home_redirects_to_the_first_team_or_explains(team, member, client_as, db):
    from tests.factories import UserFactory

    assert client_as(member(Role.VIEWER)).get("/")["Location"] == reverse(
        "dashboard", kwargs={"team_slug": team.slug}
    )
    lonely = client_as(UserFactory()).get("/")
    assert "not a member of any team" in lonely.content.decode()
