"""A bulk status change's progress bar shows its succeeded and failed parts, in words for
screen readers, without inline style."""

import re

import pytest
from django.urls import reverse

from tests.factories import finding_status_job
from triage.models import Role

pytestmark = pytest.mark.django_db


def _bar(team, member, client_as, job) -> str:
    url = reverse("findings-job", kwargs={"team_slug": team.slug, "job_id": job.pk})
    body = client_as(member(Role.VIEWER)).get(url).content.decode()
    assert 'style="' not in body and "<style" not in body
    return re.search(r'<svg class="job-bar".*?</svg>', body, re.S).group(0)


def _width(bar: str, part: str) -> str:
    return re.search(rf'<rect class="job-bar-{part}"[^>]*\swidth="(\d+)"', bar).group(1)


def test_half_failed_job_shows_a_succeeded_and_a_failed_part(team, member, client_as):
    job = finding_status_job(
        team, state="finished", outcomes=["changed", "unchanged", "failed", "failed"]
    )

    bar = _bar(team, member, client_as, job)

    assert 'viewBox="0 0 4 1"' in bar
    assert _width(bar, "succeeded") == "2" and _width(bar, "failed") == "2"
    assert re.search(r'<rect class="job-bar-failed" x="2"', bar)
    assert 'role="img"' in bar
    assert "<title" in bar and "2 of 4 findings succeeded, 2 failed</title>" in bar


def test_running_job_says_how_far_it_got(team, member, client_as):
    job = finding_status_job(
        team, state="running", outcomes=["changed", "failed", "pending", "pending"]
    )

    bar = _bar(team, member, client_as, job)

    assert _width(bar, "succeeded") == "1" and _width(bar, "failed") == "1"
    assert "1 of 4 findings succeeded, 1 failed, 2 of 4 processed so far" in bar


def test_job_without_failures_has_no_failed_part(team, member, client_as):
    job = finding_status_job(team, state="finished", outcomes=["changed", "changed"])

    bar = _bar(team, member, client_as, job)

    assert _width(bar, "succeeded") == "2" and _width(bar, "failed") == "0"
