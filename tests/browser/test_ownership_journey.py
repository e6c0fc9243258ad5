"""Who fixes what, end to end in headless Chromium with a real Celery worker: an admin makes a
squad and imports CODEOWNERS, the rules are applied by the worker; a triager claims a finding
with the keyboard, bulk-assigns two to a colleague, groups the findings by rule and resolves a
whole rule through Kolega; the colleague finds the two in My queue, with its count in the
navigation. No console error and no CSP violation on the way."""

import re

import pytest
from django.db.models import Count, Q
from django.urls import reverse

from triage.models import AuditEvent, Finding, OwnershipEvaluation, Role


def _url(name: str, team) -> str:
    return reverse(name, kwargs={"team_slug": team.slug})


@pytest.mark.usefixtures("celery_worker_process", "demo_connection")
def test_owners_claims_assignment_triage_by_rule_and_my_queue(
    browser_page, live_server, team, member, sign_in, shot
):
    admin = member(Role.ADMIN, username="ada")
    triager = member(Role.TRIAGER, username="tess")
    colleague = member(Role.TRIAGER, username="abe")
    page = browser_page

    # The admin: a squad, and a CODEOWNERS file that gives it every finding.
    sign_in(page, admin)
    page.goto(live_server.url + _url("settings-ownership", team))
    page.get_by_label("Squad name").fill("appsec")
    page.get_by_role("button", name="Create squad").click()
    page.wait_for_load_state()
    page.get_by_label("CODEOWNERS file").fill("# everything\n* @appsec\n")
    page.get_by_role("button", name="Import").click()
    page.wait_for_load_state()
    assert "1 rule imported from CODEOWNERS." in page.locator("body").inner_text()
    # The worker applies the rules; the page's polling shows it finished.
    page.locator("#ownership-summary").wait_for(timeout=60_000)
    assert OwnershipEvaluation.objects.get(team=team).state == "finished"
    total = Finding.objects.filter(team=team).count()
    assert Finding.objects.filter(team=team, owner_squad__name="appsec").count() == total

    # The triager: claim the first row with "c", then assign two others to abe.
    sign_in(page, triager)
    page.goto(live_server.url + _url("findings", team) + "?status=open&sort=sla")
    rows = page.locator("tr[data-finding-row]")
    first_id = rows.first.get_attribute("id")
    page.locator("body").press("j")
    page.locator("body").press("c")
    page.locator("#toasts").get_by_text("Assigned 1 finding to you.").wait_for()
    assert page.locator(f"#{first_id} [data-owner]").inner_text().startswith("@tess")
    boxes = page.locator("tr[data-finding-row] input[name=finding]")
    boxes.nth(1).check()
    boxes.nth(2).check()
    chosen = [int(boxes.nth(n).get_attribute("value")) for n in (1, 2)]
    page.locator("#assign-assignee").select_option(label="abe")
    page.get_by_role("button", name="Assign", exact=True).click()
    page.locator("#toasts").get_by_text("Assigned 2 findings to abe.").wait_for()
    assert sorted(
        Finding.objects.filter(owner_member=colleague).values_list("pk", flat=True)
    ) == sorted(chosen)
    assert AuditEvent.objects.filter(team=team, action="finding.assign").count() == 3
    shot(page, "journey-assigned")

    # Triage by rule: resolve every open finding of the rule with the most of them, except
    # none of abe's two, which must stay in his queue.
    rule = (
        Finding.objects.filter(team=team)
        .exclude(pk__in=chosen)
        .values("check_id")
        .annotate(open=Count("pk", filter=Q(status="open")))
        .exclude(check_id__in=Finding.objects.filter(pk__in=chosen).values("check_id"))
        .order_by("-open", "check_id")
        .first()
    )
    check_id, open_count = rule["check_id"], rule["open"]
    assert open_count > 0
    page.get_by_role("link", name="Group by rule").click()
    group = page.locator(f'tbody[data-rule-group="{check_id}"]')
    group.wait_for()
    assert re.search(r"group=rule", page.url)
    assert "status=open" in page.url  # the filters stay with the grouping
    group.get_by_role("button", name=f"Actions on every finding of {check_id}").click()
    actions = page.locator("#group-actions-dialog")
    actions.get_by_label("Set status").select_option("resolved")
    actions.get_by_label("Comment").fill("Fixed across every service")
    actions.get_by_role("button", name="Change status").click()
    page.wait_for_url(re.compile(r"/findings/jobs/\d+/"))
    page.get_by_role("heading", name="Done").wait_for(timeout=60_000)
    assert page.locator("#job-changed").inner_text() == str(open_count)
    assert not Finding.objects.filter(team=team, check_id=check_id, status="open").exists()
    shot(page, "journey-rule-resolved")

    # The colleague: his two findings in My queue, its count in the navigation.
    sign_in(page, colleague)
    page.goto(live_server.url + _url("my-queue", team))
    assert page.get_by_role("heading", name="My queue").is_visible()
    queue_ids = sorted(
        int(row_id.removeprefix("finding-row-"))
        for row_id in page.locator("tr[data-finding-row]").evaluate_all(
            "rows => rows.map(row => row.id)"
        )
    )
    # abe is in no squad: his queue is what was assigned to him.
    assert queue_ids == sorted(chosen)
    page.locator("#my-queue-badge .badge").wait_for()
    assert page.locator("#my-queue-badge .badge").inner_text() == "2"
    shot(page, "journey-my-queue")

    assert page.console_errors == []
