"""Settings → Ownership and a finding's owner in a browser: an admin makes a squad and imports
CODEOWNERS, the rules are applied with a progress bar, a triager claims a finding, and on the
findings page claims with the keyboard and assigns a selection; no console error and no CSP
violation."""

from django.urls import reverse

from tests.factories import FindingFactory, RepositoryFactory
from triage import tasks
from triage.models import Finding, OwnershipEvaluation, Role


def test_an_admin_imports_codeowners_and_a_triager_claims_in_the_browser(
    browser_page, live_server, team, member, sign_in, shot, transactional_db, monkeypatch
):
    queued = []
    monkeypatch.setattr(tasks.evaluate_ownership, "delay", queued.append)
    admin = member(Role.ADMIN, username="ada")
    triager = member(Role.TRIAGER, username="tess")
    repository = RepositoryFactory(team=team, name="shop")
    api = FindingFactory(repository=repository, file_path="api/orders.py")
    page = browser_page
    sign_in(page, admin)

    page.goto(live_server.url + reverse("settings-ownership", kwargs={"team_slug": team.slug}))
    page.get_by_label("Squad name").fill("backend")
    page.get_by_role("button", name="Create squad").click()
    page.wait_for_load_state()
    assert "Squad @backend created." in page.locator("body").inner_text()
    page.get_by_label("CODEOWNERS file").fill("/api/ @backend\n/web/ @nobody\n")
    page.get_by_role("button", name="Import").click()
    page.wait_for_load_state()
    assert "Line 2: @nobody is neither a squad nor a member of Blue Team." in (
        page.locator("#import-errors").inner_text()
    )
    page.console_errors.clear()  # the refused form's 400
    page.get_by_label("CODEOWNERS file").fill("/api/ @backend\n*.md @tess\n")
    page.get_by_role("button", name="Import").click()
    page.wait_for_load_state()
    assert "2 rules imported from CODEOWNERS." in page.locator("body").inner_text()
    assert page.locator("#ownership-bar").is_visible()
    shot(page, "ownership-running")

    # The worker's pass; the page's polling shows it finished and stops.
    assert tasks.evaluate_ownership(queued[-1]) == "finished"
    page.locator("#ownership-summary").wait_for(timeout=10_000)
    assert OwnershipEvaluation.objects.get(pk=queued[-1]).changed == 1
    assert Finding.objects.get(pk=api.pk).owner_squad.name == "backend"

    sign_in(page, triager)
    page.goto(
        live_server.url + reverse("finding", kwargs={"team_slug": team.slug, "finding_id": api.pk})
    )
    assert "squad @backend" in page.locator("#owner").inner_text()
    page.get_by_role("button", name="Assign to me").click()
    page.wait_for_load_state()
    assert "Assigned to you." in page.locator("body").inner_text()
    assert "tess" in page.locator("#owner-names").inner_text()
    assert "nobody → tess" in page.locator("#timeline").inner_text()
    shot(page, "finding-owner")

    assert page.console_errors == []


def test_a_triager_claims_with_the_keyboard_and_bulk_assigns_from_the_findings_page(
    browser_page, live_server, team, member, sign_in, shot, transactional_db
):
    triager = member(Role.TRIAGER, username="tess")
    member(Role.APPROVER, username="abe")
    member(Role.VIEWER, username="vic")
    repository = RepositoryFactory(team=team, name="shop")
    findings = [
        FindingFactory(repository=repository, file_path=f"api/f{n}.py", severity="high")
        for n in range(3)
    ]
    page = browser_page
    sign_in(page, triager)
    page.goto(live_server.url + reverse("findings", kwargs={"team_slug": team.slug}))
    rows = page.locator("tr[data-finding-row]")
    assert rows.count() == 3
    assert page.locator("#assign-assignee option").all_inner_texts() == ["abe", "tess"]

    # "c" claims the cursor row; the table comes back with the new owner and a toast.
    page.locator("body").press("j")
    first_id = rows.first.get_attribute("id")
    page.locator("body").press("c")
    page.locator("#toasts").get_by_text("Assigned 1 finding to you.").wait_for()
    assert page.locator(f"#{first_id} [data-owner]").inner_text() == "@tess"

    # "a" moves to the member list; assigning the two other ticked rows to abe.
    page.locator("tr[data-finding-row] input[name=finding]").nth(1).check()
    page.locator("tr[data-finding-row] input[name=finding]").nth(2).check()
    page.locator("body").press("a")
    assert page.evaluate("document.activeElement.id") == "assign-assignee"
    page.locator("#assign-assignee").select_option(label="abe")
    page.get_by_role("button", name="Assign", exact=True).click()
    page.locator("#toasts").get_by_text("Assigned 2 findings to abe.").wait_for()
    shot(page, "findings-bulk-assigned")

    owners = sorted(
        Finding.objects.filter(pk__in=[f.pk for f in findings]).values_list(
            "owner_member__username", "owner_explicit"
        )
    )
    assert owners == [("abe", True), ("abe", True), ("tess", True)]
    assert sorted(page.locator("[data-owner]").all_inner_texts()) == ["@abe", "@abe", "@tess"]
    assert page.console_errors == []
