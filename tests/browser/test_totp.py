"""An authenticator app in a browser: enrolled under the preferences with the key shown, then a
password sign-in that asks for a code before any page opens."""

from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from tests.factories import TEST_PASSWORD
from tests.triage.test_totp import code_of
from triage.models import Role


def test_enrol_then_sign_in_with_the_second_step(
    browser_page, live_server, team, member, sign_in, shot, transactional_db
):
    user = member(Role.TRIAGER, username="ada")
    page = browser_page
    sign_in(page, user)

    page.goto(live_server.url + reverse("preferences"))
    page.get_by_role("link", name="Enrol, or manage, an authenticator app").click()
    secret = page.locator("#totp-secret").inner_text()
    device = TOTPDevice.objects.get(user=user)
    assert len(secret) >= 32
    page.fill("#confirm_code", code_of(device))
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    shot(page, "recovery-codes")

    page.context.clear_cookies()
    page.goto(live_server.url + reverse("login"))
    page.fill("#id_username", "ada")
    page.fill("#id_password", TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    page.goto(live_server.url + reverse("dashboard", kwargs={"team_slug": team.slug}))
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    shot(page, "second-step")

    page.fill("#id_code", code_of(device, steps_ahead=1))
    page.get_by_role("button", name="Continue").click()
    assert page.url.endswith(reverse("dashboard", kwargs={"team_slug": team.slug}))
