"""Settings → Notifications in a browser: an admin adds a signed webhook, sends a test message
and sees the receiver's answer, routes finished scans to it; a scan finishes and the receiver
gets one signed message, which the delivery log shows; no console error, no CSP violation."""

import json

import pytest
from django.urls import reverse

from tests.factories import RepositoryFactory, ScanBatchFactory
from tests.triage.notifications.conftest import verify_signature
from triage import tasks
from triage.models import Role
from triage.sync.notifications import scan_batch_settled

SECRET = "browser-signing-secret-0123"


@pytest.mark.usefixtures("transactional_db")
def test_an_admin_sets_up_a_webhook_and_a_finished_scan_reaches_it(
    browser_page, live_server, team, member, sign_in, shot, monkeypatch, http_receiver
):
    queued = []
    monkeypatch.setattr(tasks.deliver_notification, "delay", queued.append)
    admin = member(Role.ADMIN, username="ada")
    page = browser_page
    sign_in(page, admin)
    settings_url = live_server.url + reverse(
        "settings-notifications", kwargs={"team_slug": team.slug}
    )

    page.goto(settings_url)
    page.get_by_label("Name").fill("Security hooks")
    page.get_by_label("Kind").select_option("webhook")
    page.get_by_label("Webhook address").fill(http_receiver.url)
    page.get_by_label("Signing secret").fill(SECRET)
    page.get_by_role("button", name="Add channel").click()
    page.wait_for_load_state()
    assert "Channel “Security hooks” added." in page.locator("body").inner_text()
    assert http_receiver.url not in page.content()

    http_receiver.answer((200, {}, b"thanks"))
    page.get_by_role("button", name="Send a test message").click()
    page.wait_for_load_state()
    assert "The receiver answered HTTP 200: thanks" in page.locator("body").inner_text()

    page.get_by_label("Channel").select_option(label="Security hooks")
    page.get_by_label("Event").select_option(label="Scan batch finished")
    page.get_by_role("button", name="Add rule").click()
    page.wait_for_load_state()
    assert "Rule added: Scan batch finished → Security hooks." in (
        page.locator("body").inner_text()
    )
    shot(page, "channel-and-rule")

    # A scan the portal was tracking finishes: the sync records it, the worker delivers it.
    batch = ScanBatchFactory(repository=RepositoryFactory(team=team, name="shop"))
    scan_batch_settled(batch=batch, previous_status="scanning")
    scan_batch_settled(batch=batch, previous_status="scanning")
    assert len(queued) == 1
    assert tasks.deliver_notification(queued[0]) == "delivered"

    test_message, message = http_receiver.requests
    assert json.loads(test_message.body)["event"] == "test"
    body = json.loads(message.body)
    assert body["event"] == "scan.finished" and body["data"]["scan_batch"]["repository"] == "shop"
    assert verify_signature(SECRET, message.headers, message.body)

    page.get_by_role("link", name="Delivery log").click()
    page.wait_for_load_state()
    row = page.locator("#deliveries tbody tr").first
    assert "Scan batch finished" in row.inner_text() and "Delivered" in row.inner_text()
    shot(page, "delivery-log")


def test_a_member_switches_to_the_daily_digest_and_receives_it(
    browser_page, live_server, team, member, sign_in, shot, transactional_db, smtp_server
):
    viewer = member(Role.VIEWER, username="vera")
    page = browser_page
    sign_in(page, viewer)

    page.goto(live_server.url + reverse("preferences"))
    page.get_by_role("link", name="Choose which notifications you get by email").click()
    page.wait_for_load_state()
    page.get_by_label("Report digests").select_option(label="Daily")
    page.get_by_label("New findings from a sync").select_option(label="In the daily digest")
    page.get_by_role("button", name="Save email preferences").click()
    page.wait_for_load_state()
    assert "Email preferences saved." in page.locator("body").inner_text()
    assert page.get_by_label("Report digests").input_value() == "daily"
    shot(page, "email-preferences")

    page.get_by_label("Digest", exact=True).select_option(label="Daily")
    page.get_by_role("button", name="Send me one now").click()
    page.wait_for_load_state()
    assert f"A daily digest was sent to {viewer.email}." in page.locator("body").inner_text()
    assert page.console_errors == []

    (message,) = smtp_server.wait_for(1)
    assert message["To"] == viewer.email
    assert message["Subject"].startswith("Triage Portal daily digest, ")
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "== Blue Team ==" in text and "Open findings" in text
    assert "Blue Team</h2>" in html and "Past the SLA" in html
