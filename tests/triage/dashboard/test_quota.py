"""The dashboard's quota meters, fetched from Kolega (the sandbox) after the page loads."""

import html

import pytest
from django.urls import reverse

from tests.connections import connect_and_sync
from triage.models import Role

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def sandbox_connection(team, scan_org, sandbox_transport, member):
    return connect_and_sync(team=team, admin=member(Role.ADMIN), api_key=scan_org[1])


def test_page_loads_the_meters_afterwards(team, sandbox_connection, member, client_as):
    body = client_as(member(Role.VIEWER)).get(reverse("dashboard", args=[team.slug])).content
    body = body.decode()
    assert 'hx-trigger="load"' in body and reverse("dashboard-quota", args=[team.slug]) in body
    assert "<meter" not in body  # nothing from Kolega in the page itself


def test_quota_fragment_shows_this_periods_meters(
    team, sandbox_connection, scan_org, member, client_as
):
    organization = scan_org[0]
    organization.deep_ai_scans_plan = 8
    organization.save(update_fields=["deep_ai_scans_plan"])

    response = client_as(member(Role.VIEWER)).get(
        reverse("dashboard-quota", args=[team.slug]), **HX
    )

    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert body.count("<meter") == 3
    assert "0 of 8 used · 8 left" in body
    assert "0 of 500 used · 500 left" in body
    assert "period ends" in body
    assert "hx-trigger" not in body  # loaded once, not again


def test_quota_fragment_says_when_the_key_is_rejected(
    team, sandbox_connection, scan_org, member, client_as
):
    from sandbox.services.organizations import api_key_revoke

    api_key_revoke(organization=scan_org[0], key_prefix=sandbox_connection.key_prefix)
    body = (
        client_as(member(Role.VIEWER))
        .get(reverse("dashboard-quota", args=[team.slug]), **HX)
        .content.decode()
    )
    assert "Kolega rejected this connection's key" in html.unescape(body)
    assert "<meter" not in body
