"""Findings grouped by rule in headless Chromium: the toggle keeps the filters in the URL, a
rule's findings open inline, and a rule's status change runs through the bulk job with a real
Celery worker and changes that rule's findings only."""

import re

import pytest
from django.db.models import Count, Q
from django.urls import reverse

from triage.models import Finding, Role


@pytest.mark.usefixtures("celery_worker_process", "demo_connection")
def test_group_by_rule_open_a_rule_and_resolve_it(
    browser_page, live_server, team, member, sign_in, shot
):
    # The rule with the most open findings, and every other rule's statuses before.
    rule = (
        Finding.objects.filter(team=team)
        .values("check_id")
        .annotate(open=Count("pk", filter=Q(status="open")))
        .order_by("-open", "check_id")
        .first()
    )
    check_id, open_count = rule["check_id"], rule["open"]
    assert open_count > 0
    others_before = dict(
        Finding.objects.filter(team=team).exclude(check_id=check_id).values_list("pk", "status")
    )
    page = browser_page
    sign_in(page, member(Role.TRIAGER, username="gus"))

    page.goto(live_server.url + reverse("findings", kwargs={"team_slug": team.slug}))
    page.get_by_label("Open", exact=True).check()
    page.wait_for_url(re.compile(r"status=open"))
    page.get_by_role("link", name="Group by rule").click()
    page.wait_for_url(re.compile(r"status=open.*group=rule|group=rule.*status=open"))
    group = page.locator(f'tbody[data-rule-group="{check_id}"]')
    group.wait_for()
    assert group.locator('[data-status-count="open"]').inner_text() == str(open_count)
    shot(page, "grouped")

    # A filter change keeps the grouping.
    page.get_by_label("Needs manual review", exact=True).check()
    page.wait_for_url(re.compile(r"status=needs_manual_review"))
    assert "group=rule" in page.url
    page.get_by_label("Needs manual review", exact=True).uncheck()
    page.wait_for_url(re.compile(r"^(?!.*needs_manual_review).*group=rule"))
    group = page.locator(f'tbody[data-rule-group="{check_id}"]')

    group.get_by_role("button", name=f"Show the findings of {check_id}").click()
    group.locator("tr[data-finding-row]").first.wait_for()
    assert group.locator("tr[data-finding-row]").count() == min(open_count, 20)
    shot(page, "rule-opened")

    group.get_by_role("button", name=f"Actions on every finding of {check_id}").click()
    actions = page.locator("#group-actions-dialog")
    assert check_id in actions.locator("h2").inner_text()
    actions.get_by_label("Set status").select_option("resolved")
    actions.get_by_label("Comment").fill("Fixed by the new query builder")
    actions.get_by_role("button", name="Preview").click()
    actions.get_by_text(re.compile(r"will change to Resolved")).wait_for()
    assert f"{open_count} finding" in actions.get_by_role("status").inner_text()
    actions.get_by_role("button", name="Change status").click()

    page.wait_for_url(re.compile(r"/findings/jobs/\d+/"))
    page.get_by_role("heading", name="Done").wait_for(timeout=60_000)
    shot(page, "job-finished")
    assert page.locator("#job-changed").inner_text() == str(open_count)
    assert not Finding.objects.filter(team=team, check_id=check_id, status="open").exists()
    others_after = dict(
        Finding.objects.filter(team=team).exclude(check_id=check_id).values_list("pk", "status")
    )
    assert others_after == others_before
    assert page.console_errors == []
