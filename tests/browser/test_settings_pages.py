"""Settings → Policies and Members (with an invitation) in a browser: an admin saves a policy
and invites someone, with no console error and no CSP violation."""

from django.urls import reverse

from triage.models import Invitation, Role, TeamApprovalPolicy


def test_policies_and_invitations_in_the_browser(
    browser_page, live_server, team, member, sign_in, shot, transactional_db, monkeypatch
):
    from triage import tasks

    monkeypatch.setattr(tasks.send_invitation_email, "delay", lambda invitation_id: None)
    admin = member(Role.ADMIN, username="ada")
    page = browser_page
    sign_in(page, admin)

    policies = live_server.url + reverse("settings-policies", kwargs={"team_slug": team.slug})
    page.goto(policies)
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
        f" [{policies}]"
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


def test_an_invited_person_follows_the_emailed_link_in_the_browser(
    browser_page, live_server, team, member, smtp_server, settings, shot, transactional_db
):
    """The link of a real email: sign in when asked, come back, join; no console error."""
    import re

    from tests.factories import TEST_PASSWORD, UserFactory
    from triage import tasks
    from triage.models import Membership
    from triage.services.invitations import invitation_create

    settings.PORTAL_BASE_URL = live_server.url
    admin = member(Role.ADMIN, username="ada")
    invitation = invitation_create(
        team=team, actor=admin, email="nora@example.com", role=Role.APPROVER
    )
    assert tasks.send_invitation_email(invitation.pk) == "sent"
    [message] = smtp_server.wait_for(1)
    link = re.search(r"http://\S+/invitations/\S+/", message.get_content()).group(0)
    nora = UserFactory(username="nora", email="nora@example.com")
    page = browser_page

    page.goto(link)
    page.get_by_label("Username").fill("nora")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(link)
    assert "ada invited nora@example.com to join as Approver" in page.locator("main").inner_text()
    shot(page, "invitation")
    page.get_by_role("button", name="Join Blue Team as Approver").click()
    page.wait_for_url(f"**/t/{team.slug}/")

    assert Membership.objects.get(team=team, user=nora).role == Role.APPROVER
    assert "Welcome to Blue Team" in page.locator("body").inner_text()
    assert page.console_errors == []
