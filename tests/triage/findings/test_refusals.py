"""Kolega's refusals reach the user as clear messages, and nothing local changes."""

import html

import pytest
from django.urls import reverse

from triage.models import AuditEvent, Finding, Role

pytestmark = pytest.mark.django_db


def _finding_url(team, finding):
    return reverse("finding", kwargs={"team_slug": team.slug, "finding_id": finding.pk})


def test_status_change_accepted_by_kolega_updates_row_mirror_and_audit(
    synced, team, member, client_as, upstream
):
    finding = Finding.objects.filter(connection=synced, status="open").first()
    client = client_as(member(Role.TRIAGER))

    row = client.post(_finding_url(team, finding), {"status": "ignored"}, HTTP_HX_REQUEST="true")

    body = row.content.decode()
    assert row.status_code == 200 and body.lstrip().startswith(f'<tr id="finding-row-{finding.pk}"')
    assert 'data-status="ignored"' in body
    finding.refresh_from_db()
    assert finding.status == "ignored"
    assert (
        upstream.get_finding(
            repository_id=finding.repository.upstream_id, finding_id=finding.upstream_id
        ).status
        == "ignored"
    )
    event = AuditEvent.objects.get(action="finding.status_change")
    assert event.details == {"from": "open", "to": "ignored"}


@pytest.mark.parametrize(
    "fault,message",
    [
        ({"revoke": True}, "Kolega rejected this connection's key"),
        ({"rate_5xx": 1.0, "retry_after_seconds": 0}, "Kolega is unavailable (HTTP 5"),
    ],
)
def test_refused_status_change_is_explained_and_changes_nothing(
    fault, message, synced, team, member, client_as, demo_org
):
    from sandbox.services.faults import fault_config_set

    organization, _ = demo_org
    finding = Finding.objects.filter(connection=synced, status="open").first()
    before = (finding.status, finding.updated_at, finding.synced_at)
    if fault.pop("revoke", False):
        fault["revoke_key_prefix"] = synced.key_prefix
    fault_config_set(organization=organization, **fault)
    client = client_as(member(Role.TRIAGER))

    row = client.post(_finding_url(team, finding), {"status": "resolved"}, HTTP_HX_REQUEST="true")
    page = client.post(_finding_url(team, finding), {"status": "resolved"}, follow=True)

    row_body, page_body = html.unescape(row.content.decode()), html.unescape(page.content.decode())
    assert message in row_body
    assert 'role="alert"' in row_body and 'data-status="open"' in row_body
    assert message in page_body
    finding.refresh_from_db()
    assert (finding.status, finding.updated_at, finding.synced_at) == before
    assert not AuditEvent.objects.filter(action="finding.status_change").exists()
