"""The audit log's filters in a browser: an action and a date range narrow the table in place,
with no console error and no CSP violation."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from triage.models import AuditEvent, Role


def _event(team, action, *, days_ago, **details):
    event = AuditEvent.objects.create(
        team=team,
        actor_label="ada",
        action=action,
        target_label=f"{action} target",
        details=details,
    )
    AuditEvent.objects.filter(pk=event.pk).update(
        created_at=timezone.now() - timedelta(days=days_ago)
    )


def test_audit_log_filters_by_action_and_date_range(
    browser_page, live_server, team, member, sign_in, shot, transactional_db
):
    admin = member(Role.ADMIN, username="ada")
    _event(team, "member.add", days_ago=20, role="viewer")
    _event(team, "member.add", days_ago=2, role="triager")
    _event(team, "fix.cancel", days_ago=2)
    _event(
        team,
        "finding_status_job.create",
        days_ago=1,
        status="resolved",
        findings=3,
        comment="fixed upstream",
    )
    page = browser_page
    sign_in(page, admin)

    page.goto(live_server.url + reverse("settings-audit", kwargs={"team_slug": team.slug}))
    rows = page.locator("#audit-table tbody tr")
    assert rows.count() == 4
    assert "Changed the status of 3 findings to Resolved: “fixed upstream”" in (
        page.locator("#audit-table").inner_text()
    )

    page.select_option("#audit-action", label="Member added")
    expect(rows).to_have_count(2)
    assert "action=member.add" in page.url

    since = (timezone.localdate() - timedelta(days=5)).isoformat()
    page.fill("#audit-date_from", since)
    expect(rows).to_have_count(1)
    assert "Added to the team as Triager" in page.locator("#audit-table").inner_text()
    assert f"date_from={since}" in page.url
    export = page.locator("#audit-export")
    assert "action=member.add" in export.get_attribute("href")
    assert f"date_from={since}" in export.get_attribute("href")

    page.fill("#audit-date_to", (timezone.localdate() - timedelta(days=10)).isoformat())
    page.wait_for_selector("[data-ignored-filters]")
    assert (
        "is earlier than From, so no day could match."
        in page.locator("[data-ignored-filters]").inner_text()
    )
    shot(page, "audit-filtered")

    assert page.console_errors == []
