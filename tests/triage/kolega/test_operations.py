"""Every client operation against the sandbox, through a scan and a fix life cycle."""

import pytest

from sandbox import clock
from sandbox.models import Organization
from sandbox.services.organizations import organization_create
from sandbox.services.repositories import repository_create
from tests.triage.kolega.sandbox_data import FIX_SECONDS, SCAN_SECONDS, scan_to_completion
from triage.kolega import (
    Finding,
    Fix,
    KolegaAuthError,
    KolegaConflict,
    KolegaNotFound,
    KolegaQuotaExceeded,
    KolegaValidationError,
    Page,
    Repository,
)

pytestmark = pytest.mark.django_db


def test_repositories_are_listed_and_read(kolega, repository):
    page = kolega.list_repositories()

    assert isinstance(page, Page)
    assert page.total == 1 and not page.has_next
    listed = page.items[0]
    assert isinstance(listed, Repository)
    assert listed.id == str(repository.id)
    assert listed.name == "Payments"
    assert [ref.full_name for ref in listed.repositories] == ["acme/api"]
    assert kolega.get_repository(repository_id=listed.id) == listed


def test_a_scan_batch_is_started_followed_and_its_findings_read(kolega, repository):
    repository_id = str(repository.id)

    batch = kolega.create_scan(repository_id=repository_id, scan_type="secrets_scan")
    assert batch.status == "queued"
    assert batch.scan_type == "secrets_scan"
    assert batch.total_repositories == 1

    progress = kolega.get_scan_progress(repository_id=repository_id, scan_id=batch.batch_id)
    assert progress.percent_complete == 0
    assert [entry.repository for entry in progress.repositories] == ["acme/api"]

    clock.advance(SCAN_SECONDS)
    done = kolega.get_scan(repository_id=repository_id, scan_id=batch.batch_id)
    assert done.status == "completed"
    assert done.completed_at is not None
    assert kolega.list_scans(repository_id=repository_id, scan_type="secrets_scan").items == [done]
    assert kolega.list_scans(repository_id=repository_id, scan_type="sbom_scan").total == 0

    results = kolega.get_scan_results(repository_id=repository_id, scan_id=batch.batch_id)
    assert results.findings_count == len(results.findings) > 0
    assert {summary.file_path for summary in results.findings} == {"app/settings.py"}

    findings = kolega.list_findings(repository_id=repository_id, scan_batch_id=batch.batch_id)
    assert findings.total == results.findings_count
    assert all(isinstance(finding, Finding) for finding in findings.items)
    first = findings.items[0]
    assert kolega.get_finding(repository_id=repository_id, finding_id=first.id) == first


def test_a_finding_status_change_is_applied_and_shows_in_the_event_feed(kolega, repository):
    repository_id = str(repository.id)
    scan_to_completion(kolega, repository)
    finding = kolega.list_findings(repository_id=repository_id, limit=1).items[0]

    updated = kolega.update_finding_status(
        repository_id=repository_id, finding_id=finding.id, status="false_positive"
    )
    again = kolega.update_finding_status(
        repository_id=repository_id, finding_id=finding.id, status="false_positive"
    )

    assert updated.status == again.status == "false_positive"
    assert kolega.list_findings(repository_id=repository_id, status="false_positive").total == 1
    events = kolega.list_finding_events(finding_id=finding.id)
    assert {event.event_type for event in events.items} >= {"detected", "status_changed"}
    changed = next(event for event in events.items if event.event_type == "status_changed")
    assert (changed.previous_status, changed.new_status) == ("open", "false_positive")
    window = kolega.list_finding_events(
        finding_id=finding.id, start=changed.event_timestamp, end=changed.event_timestamp
    )
    assert [event.id for event in window.items] == [changed.id]


def test_a_fix_runs_and_opens_pull_requests(kolega, repository):
    repository_id = str(repository.id)
    scan_to_completion(kolega, repository)
    finding = kolega.list_findings(repository_id=repository_id, limit=1).items[0]

    fix = kolega.create_fix(
        repository_id=repository_id,
        finding_ids=[finding.id],
        title="Move secrets to the environment",
        instructions="Read them from os.environ",
        source_repo="acme/api",
    )
    assert isinstance(fix, Fix)
    assert fix.status == "pending"
    assert fix.finding_ids == [finding.id]
    assert kolega.get_fix_diff(repository_id=repository_id, fix_id=fix.id).diff is None
    assert kolega.list_fixes(repository_id=repository_id, finding_id=finding.id).items == [fix]
    with pytest.raises(KolegaConflict):
        kolega.create_pull_requests(repository_id=repository_id, fix_id=fix.id)

    clock.advance(FIX_SECONDS)
    progress = kolega.get_fix_progress(repository_id=repository_id, fix_id=fix.id)
    assert progress.status == "completed"
    assert progress.agent_steps_completed > 0
    diff = kolega.get_fix_diff(repository_id=repository_id, fix_id=fix.id)
    assert diff.status == "completed"
    assert diff.diff and "app/settings.py" in diff.diff

    created = kolega.create_pull_requests(
        repository_id=repository_id, fix_id=fix.id, title="Secrets out of the code"
    )
    assert created.fix_id == fix.id
    assert [pr.repo_full_name for pr in created.pull_requests] == ["acme/api"]
    assert created.pull_requests[0].merge_status == "open"
    assert kolega.get_fix(repository_id=repository_id, fix_id=fix.id).pull_requests == (
        created.pull_requests
    )

    refined = kolega.refine_fix(
        repository_id=repository_id, fix_id=fix.id, instructions="Also document the variables"
    )
    assert refined.status in ("pending", "running")
    cancelled = kolega.cancel_fix(repository_id=repository_id, fix_id=fix.id)
    assert cancelled.status == "cancelled"
    with pytest.raises(KolegaConflict) as caught:
        kolega.cancel_fix(repository_id=repository_id, fix_id=fix.id)
    assert caught.value.status_code == 409


def test_unknown_and_foreign_resources_are_not_found(kolega, repository, db):
    other, _ = organization_create(name="Other Org")
    foreign = repository_create(organization=other, name="Theirs", source_trees={})

    for repository_id in ("no-such-repository", str(foreign.id)):
        with pytest.raises(KolegaNotFound) as caught:
            kolega.get_repository(repository_id=repository_id)
        assert caught.value.status_code == 404
        assert caught.value.error_code == "NOT_FOUND"
    assert kolega.request_count == 2  # a 404 is an answer, not a reason to retry


def test_path_parameters_cannot_escape_their_segment(kolega, repository):
    with pytest.raises(KolegaNotFound):
        kolega.get_scan(repository_id=str(repository.id), scan_id="../../../me")


def test_invalid_parameters_carry_the_validation_details(kolega, repository):
    with pytest.raises(KolegaValidationError) as caught:
        kolega.list_repositories(limit=500)
    assert caught.value.status_code == 422
    assert [detail["loc"] for detail in caught.value.details] == [["query", "limit"]]
    assert "limit" in caught.value.message

    with pytest.raises(KolegaValidationError) as caught:
        kolega.create_scan(repository_id=str(repository.id), scan_type="quantum_scan")
    assert caught.value.details[0]["loc"] == ["body", "scan_type"]


def test_exhausted_quota_names_the_counter_and_when_it_resets(kolega, repository, sandbox_org):
    Organization.objects.filter(pk=sandbox_org[0].pk).update(sast_scans_plan=0)

    with pytest.raises(KolegaQuotaExceeded) as caught:
        kolega.create_scan(repository_id=str(repository.id), scan_type="semgrep_scan")

    assert caught.value.status_code == 403
    assert caught.value.quota_type == "sast_scans"
    assert caught.value.error_code == "OPERATION_FAILED"
    assert caught.value.period_end == kolega.quota_balance().period_end
    assert not isinstance(caught.value, KolegaAuthError)


def test_a_repository_without_source_repos_cannot_be_scanned(kolega, sandbox_org, sandbox_clock):
    empty = repository_create(organization=sandbox_org[0], name="Empty", source_trees={})

    with pytest.raises(KolegaConflict) as caught:
        kolega.create_scan(repository_id=str(empty.id), scan_type="secrets_scan")

    assert caught.value.status_code == 400
    assert caught.value.error_code == "NO_REPOSITORIES"


def test_a_read_only_key_cannot_write(make_kolega, sandbox_transport, sandbox_org, repository):
    _, read_only_key = organization_create(name="Readers", scopes=("read",))
    client = make_kolega(api_key=read_only_key, transport=sandbox_transport)
    client.me()

    with pytest.raises(KolegaAuthError) as caught:
        client.create_scan(repository_id=str(repository.id), scan_type="secrets_scan")

    assert caught.value.status_code == 403
    assert caught.value.error_code == "FORBIDDEN"


def test_iter_all_walks_every_page_of_the_sandbox(kolega, sandbox_org, sandbox_clock):
    for number in range(205):
        repository_create(organization=sandbox_org[0], name=f"repo-{number:03}", source_trees={})

    repositories = list(kolega.iter_all(kolega.list_repositories))
    pages = list(kolega.iter_pages(kolega.list_repositories))

    assert len(repositories) == 205
    assert len({repository.id for repository in repositories}) == 205
    assert [len(page.items) for page in pages] == [200, 5]
    assert [page.has_next for page in pages] == [True, False]
    assert kolega.request_count == 4
