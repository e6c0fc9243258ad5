"""Settings → Policies and Members (with an invitation) in a browser: an admin saves a policy
and invites someone, with no console error and no CSP violation."""

from django.urls import reverse

from tests.browser.test_audit_log import RECORD_CSP_VIOLATIONS
from triage.models import Invitation, Role, TeamApprovalPolicy


def test_policies_and_invitations_in_the_browser(
    browser_page, live_server, team, member, sign_in, shot, transactional_db, monkeypatch
):
    from triage import tasks

    monkeypatch.setattr(tasks.send_invitation_email, "delay", lambda invitation_id: None)
    admin = member(Role.ADMIN, username="ada")
    page = browser_page
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    sign_in(page, admin)

    page.goto(live_server.url + reverse("settings-policies", kwargs={"team_slug": team.slug}))
    page.get_by_label("Approving opens the pull requests").check()
    page.get_by_role("button", name="Save approval policy").click()
    page.wait_for_load_state()
    assert "Approval policy saved." in page.locator("body").inner_text()
    assert TeamApprovalPolicy.objects.get(team=team).open_pull_requests_on_approval
    page.get_by_label("High (days)").fill("0")
    page.get_by_role("button", name="Save SLA").click()
    page.wait_for_load_state()
    assert "High (days) must be between 1 and 3650." in page.locator("#sla-policy").inner_text()
    # The refused form answers 400, which Chromium notes in the console; nothing else may be.
    assert page.console_errors == [
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    ]
    page.console_errors.clear()
    shot(page, "policies")

    page.get_by_role("link", name="Members").click()
    page.get_by_label("Email address").fill("nora@example.com")
    page.get_by_label("Role when they join").select_option(label="Triager")
    page.get_by_role("button", name="Send invitation").click()
    page.wait_for_load_state()
    assert "Invitation sent to nora@example.com." in page.locator("body").inner_text()
    assert "nora@example.com" in page.locator("#invitations").inner_text()
    assert Invitation.objects.get().role == Role.TRIAGER
    shot(page, "members")

    assert page.console_errors == []
    assert page.evaluate("window.__cspViolations") == []
