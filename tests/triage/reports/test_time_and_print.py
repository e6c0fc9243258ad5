"""Moments in running text: the punctuation after a time sits right after it, and the
printed report keeps "Generated …" apart from the time before it."""

import re
from datetime import timedelta

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags

from tests.factories import FindingFactory, KolegaConnectionFactory, RepositoryFactory
from triage.models import Role, SyncState

pytestmark = pytest.mark.django_db


def test_a_full_stop_after_a_time_follows_it_without_a_space():
    rendered = Template(
        'Data as of {% include "components/time.html" with value=moment %}.'
    ).render(Context({"moment": timezone.now()}))
    assert rendered.endswith("</time>.")


def test_the_stale_notice_ends_its_sentence_after_the_time():
    row = {
        "name": "Acme",
        "failing": False,
        "last_error": "",
        "last_success_at": timezone.now() - timedelta(hours=3),
    }
    rendered = Template('{% include "components/stale_notice.html" %}').render(
        Context({"mirror_staleness": [row]})
    )
    assert "</time>.</div>" in rendered
    assert not re.search(r"\s\.", strip_tags(rendered))


def test_the_printed_report_separates_generated_from_the_rebuild_time(team, member, client_as):
    connection = KolegaConnectionFactory(team=team)
    SyncState.objects.create(connection=connection, last_success_at=timezone.now())
    FindingFactory(repository=RepositoryFactory(team=team, connection=connection))

    body = (
        client_as(member(Role.VIEWER))
        .get(reverse("reports", kwargs={"team_slug": team.slug}))
        .content.decode()
    )

    freshness = re.search(r'<p class="muted small report-freshness">(.*?)</p>', body, re.S)
    text = " ".join(strip_tags(freshness.group(1)).split())
    assert re.search(r"Trends rebuilt from finding events: [^·]+ · Generated \d", text), text
