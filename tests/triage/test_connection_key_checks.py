"""Key checks are limited per team: each one makes the portal send a request, and a person
waits on it."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from tests.conftest import SANDBOX_BASE_URL
from tests.triage.kolega.transports import RecordingTransport
from triage.clients import override_transport
from triage.models import KolegaConnection, Role


@pytest.fixture
def limited(settings):
    settings.PORTAL_KEY_CHECKS_PER_MINUTE = 3
    cache.clear()
    yield
    cache.clear()


def _add(client, team, api_key):
    return client.post(
        reverse("settings-connections", kwargs={"team_slug": team.slug}),
        {"name": "Acme", "base_url": SANDBOX_BASE_URL, "api_key": api_key},
    )


def test_key_checks_past_the_limit_get_a_clear_error_and_send_nothing(
    limited, team, other_team, member, client_as, sandbox_wsgi, sandbox_org
):
    admin = client_as(member(Role.ADMIN))
    recording = RecordingTransport(sandbox_wsgi)

    with override_transport(recording):
        answers = [_add(admin, team, "kcp_test_notarealkey0000000000") for _ in range(4)]
        other_admin = client_as(member(Role.ADMIN, of=other_team))
        elsewhere = _add(other_admin, other_team, sandbox_org[1])

    assert [a.status_code for a in answers] == [400, 400, 400, 400]
    assert all("Kolega rejected this key." in a.content.decode() for a in answers[:3])
    assert "Wait a minute and try again." in answers[3].content.decode()
    # The fourth check never left the portal; another team is not held back.
    assert len(recording.requests) == 4
    assert elsewhere.status_code == 302
    assert KolegaConnection.objects.filter(team=other_team).exists()
