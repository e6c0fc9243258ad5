"""Syncs give findings their owner by rule and never overwrite an owner set by hand; a
finding resolved and reopened upstream keeps its owner."""

import pytest

from tests.triage.sync.test_incremental_sync import _plant_secret
from triage.kolega import iter_all
from triage.models import Finding, SyncRun
from triage.services import ownership as services
from triage.sync import sync_connection_full, sync_connection_incremental

pytestmark = pytest.mark.django_db


@pytest.fixture
def rules(team, admin, triager):
    squads = {
        name: services.squad_create(team=team, actor=admin, name=name)
        for name in ("platform", "payments")
    }
    services.codeowners_import(
        team=team, actor=admin, text="* @platform\n/config/ @payments\n*.md @tess\n"
    )
    return squads


def test_a_full_sync_gives_every_finding_the_owner_of_its_last_matching_rule(connection, rules):
    run = sync_connection_full(connection=connection)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    findings = list(Finding.objects.filter(connection=connection).select_related("owner_squad"))
    assert findings
    for finding in findings:
        expected = "payments" if finding.file_path.startswith("config/") else "platform"
        assert finding.owner_squad.name == expected, finding.file_path
        assert finding.owner_member is None and not finding.owner_explicit


def test_an_incremental_sync_owns_new_and_changed_findings_and_keeps_assignments(
    connection, upstream, demo_org, sandbox_clock, team, admin, triager, approver
):
    organization, _ = demo_org
    sync_connection_full(connection=connection)
    assert not Finding.objects.filter(owner_squad__isnull=False).exists()
    # Rules added after the first sync; their evaluation task is not run here, so only the
    # findings a sync writes get an owner.
    squads = {
        name: services.squad_create(team=team, actor=admin, name=name)
        for name in ("platform", "payments")
    }
    services.codeowners_import(team=team, actor=admin, text="* @platform\n/config/ @payments\n")
    first, second = list(iter_all(upstream.list_repositories))[:2]
    changed, assigned, untouched = list(
        iter_all(upstream.list_findings, repository_id=first.id, status="open")
    )[:3]
    mirrored = Finding.objects.get(connection=connection, upstream_id=assigned.id)
    services.finding_assign(team=team, actor=triager, finding=mirrored, assignee_id=approver.pk)
    for finding in (changed, assigned):
        upstream.update_finding_status(
            repository_id=first.id, finding_id=finding.id, status="resolved"
        )
    _plant_secret(organization, second.id)
    batch = upstream.create_scan(repository_id=second.id, scan_type="secrets_scan")
    sandbox_clock.advance(600)
    assert upstream.get_scan(repository_id=second.id, scan_id=batch.batch_id).status == "completed"

    run = sync_connection_incremental(connection=connection)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error

    def owner(upstream_id):
        row = Finding.objects.select_related("owner_squad", "owner_member").get(
            connection=connection, upstream_id=upstream_id
        )
        return (
            row.status,
            row.owner_squad.name if row.owner_squad else None,
            row.owner_member.username if row.owner_member else None,
            row.owner_explicit,
        )

    assert owner(changed.id) == ("resolved", "platform", None, False)
    assert owner(assigned.id) == ("resolved", None, "abe", True)
    assert owner(untouched.id)[1:] == (None, None, False)
    new = Finding.objects.get(connection=connection, file_path="config/payments.py")
    assert new.owner_squad == squads["payments"]

    # A full sync rewriting every finding keeps the assignment too.
    sync_connection_full(connection=connection)
    assert owner(assigned.id) == ("resolved", None, "abe", True)

    # Reopened upstream, each finding goes back to its owner: the member it was assigned to,
    # or its rule's squad.
    for finding in (changed, assigned):
        upstream.update_finding_status(repository_id=first.id, finding_id=finding.id, status="open")
    sandbox_clock.advance(60)
    run = sync_connection_incremental(connection=connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert owner(assigned.id) == ("open", None, "abe", True)
    assert owner(changed.id) == ("open", "platform", None, False)
