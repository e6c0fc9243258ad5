from django.urls import reverse

from tests.factories import TEST_PASSWORD
from triage.models import Role


def test_sign_in_and_move_between_teams(
    browser_page, live_server, team, other_team, member, shot, transactional_db
):
    from tests.factories import MembershipFactory

    user = member(Role.TRIAGER, username="tess")
    MembershipFactory(user=user, team=other_team, role=Role.VIEWER)
    page = browser_page

    page.goto(live_server.url + reverse("dashboard", kwargs={"team_slug": team.slug}))
    page.get_by_label("Username").fill("tess")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    shot(page, "login")
    page.get_by_role("button", name="Sign in").click()

    page.wait_for_url(f"**/t/{team.slug}/")
    assert page.get_by_role("link", name="Dashboard").get_attribute("aria-current") == "page"
    shot(page, "dashboard")
    page.locator("details.team-switcher summary").click()
    page.get_by_role("link", name="Red Team").click()
    page.wait_for_url(f"**/t/{other_team.slug}/")
    assert "Red Team" in page.locator(".team-switcher summary").inner_text()
    assert page.console_errors == []  # no CSP violation, no script error
