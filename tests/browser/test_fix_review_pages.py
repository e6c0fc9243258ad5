"""The fix pages a reviewer reads, in Chromium: the side-by-side diff numbered by each file,
the comparison of two versions, and the start form for findings of several repositories.
Any console error or CSP violation fails the test."""

import re

import pytest
from django.urls import reverse

from tests.factories import FindingFactory, FixDiffVersionFactory, FixFactory, RepositoryFactory

pytestmark = pytest.mark.django_db(transaction=True)

OLD = [f"line {n}" for n in range(1, 31)]


def _diff(*line_5: str) -> str:
    """A diff of app/db.py (the lines of `OLD`) that rewrites line 5 as `line_5` and drops
    line 22; the second hunk starts as many lines later as the first one adds."""
    added = "".join(f"+{line}\n" for line in line_5)
    return f"""diff --git a/app/db.py b/app/db.py
--- a/app/db.py
+++ b/app/db.py
@@ -3,5 +3,{4 + len(line_5)} @@
 line 3
 line 4
-line 5
{added} line 6
 line 7
@@ -20,5 +{19 + len(line_5)},4 @@
 line 20
 line 21
-line 22
 line 23
 line 24
"""


V1_DIFF = _diff("line 5 quoted", "line 5 checked")
V2_DIFF = _diff("line 5 with a parameter")


def _clean(page) -> None:
    assert page.console_errors == []


def test_split_view_compare_and_start_form(browser_page, live_server, team, triager, sign_in, shot):
    page = browser_page
    sign_in(page, triager)
    repository = RepositoryFactory(team=team, name="payments-api")
    fix = FixFactory(repository=repository, diff=V2_DIFF)
    FixDiffVersionFactory(fix=fix, diff=V1_DIFF)
    fix_url = live_server.url + reverse(
        "fixes-detail", kwargs={"team_slug": team.slug, "fix_id": fix.pk}
    )

    page.goto(fix_url + "?view=split")
    page.locator("table.diff-split").first.wait_for()
    rows = page.locator("table.diff-split tr")
    # Under "@@ -20,5 +20,4 @@" the left column reads 20-24 and the right 20-23.
    second_hunk = rows.filter(has_text="@@ -20,5 +20,4 @@")
    second_hunk.wait_for()
    left = page.locator("table.diff-split button[data-comment-side=old]").all_inner_texts()
    right = page.locator("table.diff-split button[data-comment-side=new]").all_inner_texts()
    assert left == ["3", "4", "5", "6", "7", "20", "21", "22", "23", "24"]
    assert right == ["3", "4", "5", "6", "7", "20", "21", "22", "23"]
    shot(page, "split-view")
    # The version list names the current diff once.
    options = page.locator("#diff-version option").all_inner_texts()
    assert options == ["Version 2 (current)", "Version 1"]
    _clean(page)

    page.get_by_role("link", name="Compare versions").click()
    page.wait_for_url(re.compile(r"/compare/"))
    assert page.locator("#cmp-a").input_value() == "1"
    assert page.locator("#cmp-b").input_value() == "2"
    code = page.locator("table.diff td.diff-code").all_inner_texts()
    assert "line 5 with a parameter" in code and "line 5 quoted" in code
    assert not any(text.startswith(("+", "-")) for text in code if not text.startswith("@@"))
    shot(page, "compare")
    _clean(page)

    other = RepositoryFactory(team=team, name="web-app")
    findings = [FindingFactory(repository=repository), FindingFactory(repository=other)]
    query = "&".join(f"finding={f.pk}" for f in findings)
    page.goto(live_server.url + reverse("fixes-new", kwargs={"team_slug": team.slug}) + "?" + query)
    page.get_by_role("button", name="Start 2 fixes").wait_for()
    assert "2 findings in 2 repositories: one fix per repository" in page.content()
    assert page.locator("fieldset legend").all_inner_texts() == [
        "Fix in payments-api",
        "Fix in web-app",
    ]
    page.get_by_role("button", name="Fix and add tests").click()
    assert "add or update unit tests" in page.locator("#id_instructions").input_value()
    shot(page, "start-per-repository")
    _clean(page)
