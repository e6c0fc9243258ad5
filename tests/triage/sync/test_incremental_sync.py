import pytest

from tests.mirror_rows import fix_created_upstream
from tests.triage.sync.mirror_equality import mirror_differences, mirror_snapshot
from triage.kolega import iter_all
from triage.models import Fix, ScanBatch, SyncRun, SyncState
from triage.sync import sync_connection_full, sync_connection_incremental

pytestmark = pytest.mark.django_db

PLANTED_SECRET = 'STRIPE_SECRET_KEY = "sk_live_4eC39HqLyjWDarjtT1zdp7dcABCDEF"\n'


def _plant_secret(organization, repository_id):
    """Add a file with a secret to a source repo so a rescan finds something new."""
    from sandbox.models import SourceRepo
    from sandbox.services.trees import source_tree, source_tree_write

    source = SourceRepo.objects.filter(repository_id=repository_id).first()
    files = source_tree(source_repo=source) | {"config/payments.py": PLANTED_SECRET}
    source_tree_write(source_repo=source, files=files)
    return source


def test_no_change_incremental_sync_makes_at_most_three_requests(connection):
    sync_connection_full(connection=connection)
    before = mirror_snapshot(connection)

    run = sync_connection_incremental(connection=connection)

    assert run.kind == SyncRun.Kind.INCREMENTAL
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.requests <= 3
    assert run.rows_written == 0
    assert mirror_snapshot(connection) == before


def test_first_incremental_sync_of_a_connection_is_a_full_one(connection, upstream):
    run = sync_connection_incremental(connection=connection)

    assert run.kind == SyncRun.Kind.FULL
    assert mirror_differences(connection, upstream) == []


def test_status_changes_a_new_scan_and_a_new_fix_are_caught_by_one_incremental_sync(
    connection, upstream, demo_org, sandbox_clock
):
    organization, _ = demo_org
    sync_connection_full(connection=connection)
    repositories = list(iter_all(upstream.list_repositories))
    first, second = repositories[0], repositories[1]
    findings = list(iter_all(upstream.list_findings, repository_id=first.id, status="open"))
    # Status changes made outside the portal.
    upstream.update_finding_status(
        repository_id=first.id, finding_id=findings[0].id, status="false_positive"
    )
    upstream.update_finding_status(
        repository_id=first.id, finding_id=findings[1].id, status="resolved"
    )
    # A rescan that finds one new secret and sees every other finding again.
    source = _plant_secret(organization, second.id)
    batch = upstream.create_scan(repository_id=second.id, scan_type="secrets_scan")
    # A fix run to completion, with a pull request.
    target = findings[2]
    fix = fix_created_upstream(upstream, first, [target.id])
    sandbox_clock.advance(600)
    upstream.create_pull_requests(repository_id=first.id, fix_id=fix.id)
    assert upstream.get_scan(repository_id=second.id, scan_id=batch.batch_id).status == "completed"
    assert mirror_differences(connection, upstream) != []

    run = sync_connection_incremental(connection=connection)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert mirror_differences(connection, upstream) == []
    mirrored_batch = ScanBatch.objects.get(connection=connection, upstream_id=batch.batch_id)
    assert mirrored_batch.findings.filter(file_path="config/payments.py").exists()
    mirrored_fix = Fix.objects.get(connection=connection, upstream_id=fix.id)
    assert mirrored_fix.diff and len(mirrored_fix.diff_sha256) == 64
    assert mirrored_fix.pull_requests.count() == 1
    assert source.full_name


def test_running_incremental_twice_changes_nothing_the_second_time(
    connection, upstream, sandbox_clock
):
    sync_connection_full(connection=connection)
    repository = next(iter_all(upstream.list_repositories))
    finding = next(iter_all(upstream.list_findings, repository_id=repository.id, status="open"))
    upstream.update_finding_status(
        repository_id=repository.id, finding_id=finding.id, status="ignored"
    )
    first = sync_connection_incremental(connection=connection)
    cursor = SyncState.objects.get(connection=connection).events_cursor
    after_first = mirror_snapshot(connection)

    second = sync_connection_incremental(connection=connection)

    assert first.rows_written >= 2  # the finding and its event
    assert second.rows_written == 0
    assert mirror_snapshot(connection) == after_first
    assert SyncState.objects.get(connection=connection).events_cursor == cursor
    assert mirror_differences(connection, upstream) == []
