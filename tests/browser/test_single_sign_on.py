"""Single sign-on in Chromium: through the identity provider's own login page (oidc-provider,
a separate Node process) to the dashboard, with the role the provider's group maps to."""

import pytest

from tests.factories import TeamFactory
from tests.oidc.conftest import start_identity_provider, use_identity_provider
from triage.models import GroupRoleMapping, Membership, Role


@pytest.fixture
def browser_identity_provider(tmp_path, live_server, settings):
    idp = start_identity_provider(tmp_path, live_server.url)
    use_identity_provider(settings, idp)
    yield idp
    idp.stop()


def test_sign_in_through_the_providers_login_page(
    browser_page, live_server, browser_identity_provider, shot, transactional_db
):
    team = TeamFactory(slug="security", name="Security")
    GroupRoleMapping.objects.create(group="sec-triage", team=team, role=Role.TRIAGER)
    page = browser_page

    page.goto(live_server.url + "/login/")
    shot(page, "portal-login")
    page.get_by_role("link", name="Sign in with your company account").click()
    # The provider's own page, on its own origin.
    page.wait_for_url(f"{browser_identity_provider.issuer}/interaction/**")
    page.locator("input[name=login]").fill("tom")
    page.locator("input[name=password]").fill("any password")
    shot(page, "provider-login")
    page.locator("button[type=submit]").first.click()
    if "/interaction/" in page.url and page.locator("button[type=submit]").count():
        page.locator("button[type=submit]").first.click()  # the provider's consent page

    page.wait_for_url(f"{live_server.url}/t/security/")
    shot(page, "dashboard")
    assert page.get_by_role("link", name="Dashboard").get_attribute("aria-current") == "page"
    assert "Triager" in page.locator("body").inner_text()
    membership = Membership.objects.get(user__username="tom")
    assert (membership.team, membership.role) == (team, Role.TRIAGER)
    # Only the portal's pages must be free of console errors; the provider's login page is
    # its own (it asks for web fonts, which a machine without internet cannot load).
    page.console_errors[:] = [
        error for error in page.console_errors if f"[{live_server.url}" in error
    ]
