"""The progress bar of a half-failed bulk status change, drawn in the browser: a succeeded
and a failed part of equal length, without any CSP violation."""

from django.urls import reverse

from tests.factories import finding_status_job
from triage.models import Role


def test_half_failed_job_bar_in_the_browser(
    browser_page, live_server, team, member, sign_in, shot, transactional_db
):
    job = finding_status_job(
        team, state="finished", outcomes=["changed", "unchanged", "failed", "failed"]
    )
    page = browser_page
    sign_in(page, member(Role.VIEWER, username="viewer"))
    page.goto(
        live_server.url + reverse("findings-job", kwargs={"team_slug": team.slug, "job_id": job.pk})
    )

    bar = page.get_by_role("img", name="2 of 4 findings succeeded, 2 failed")
    bar.wait_for()
    whole = bar.bounding_box()
    succeeded = page.locator(".job-bar-succeeded").bounding_box()
    failed = page.locator(".job-bar-failed").bounding_box()
    assert whole["width"] > 100
    assert abs(succeeded["width"] - whole["width"] / 2) < 2
    assert abs(failed["width"] - whole["width"] / 2) < 2
    assert abs(failed["x"] - (succeeded["x"] + succeeded["width"])) < 2
    colours = page.evaluate(
        """() => [".job-bar-succeeded", ".job-bar-failed"].map(
            (s) => getComputedStyle(document.querySelector(s)).fill)"""
    )
    assert colours[0] != colours[1]
    shot(page, "job-half-failed")
    assert page.console_errors == []
