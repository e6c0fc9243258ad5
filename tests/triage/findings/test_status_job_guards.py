"""Bulk status jobs honour the dismissal policy of the moment they send, not of the moment
they were created; and a selection over the cap is refused without reading every id."""

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from tests.dismissals import dismissals_need_approval_set
from tests.triage.findings.status_jobs import Outcome, status_job_queued, status_job_ran
from triage.models import Finding, FindingStatusJob
from triage.services import findings as findings_services
from triage.services.errors import ServiceError
from triage.services.findings import (
    finding_status_job_create,
    finding_status_job_retry_failed,
    finding_status_job_run,
)

pytestmark = pytest.mark.django_db


def _upstream_statuses(upstream, findings) -> set[str]:
    return {
        upstream.get_finding(
            repository_id=f.repository.upstream_id, finding_id=f.upstream_id
        ).status
        for f in findings
    }


def test_retry_failed_is_refused_once_dismissals_need_approval(
    synced,
    team,
    admin,
    triager,
    demo_faults,
    upstream,
    client_factory,
    django_capture_on_commit_callbacks,
):

    targets = list(Finding.objects.filter(connection=synced, status="open")[:3])
    job = status_job_queued(team, triager, targets, "ignored", django_capture_on_commit_callbacks)
    demo_faults.set(rate_5xx=1.0, retry_after_seconds=0, seed=3)
    finding_status_job_run(job_id=job.pk, client_factory=client_factory, concurrency=1)
    demo_faults.clear()
    job.refresh_from_db()
    assert job.failed == 3
    # An admin turns approval of dismissals on while the failures wait for a retry.
    dismissals_need_approval_set(team, admin)
    with pytest.raises(ServiceError, match="needs approval"):
        finding_status_job_retry_failed(job=job, actor=triager)
    job.refresh_from_db()
    assert (job.state, job.failed) == ("finished", 3)
    assert set(job.items.values_list("outcome", flat=True)) == {Outcome.FAILED}
    assert _upstream_statuses(upstream, targets) == {"open"}


def test_a_queued_job_does_not_dismiss_once_dismissals_need_approval(
    synced, team, admin, triager, upstream, client_factory, django_capture_on_commit_callbacks
):
    targets = list(Finding.objects.filter(connection=synced, status="open")[:3])
    job = status_job_queued(
        team, triager, targets, "false_positive", django_capture_on_commit_callbacks
    )
    dismissals_need_approval_set(team, admin)  # before the worker picks the job up
    job = status_job_ran(job, client_factory)
    assert (job.state, job.failed, job.changed) == ("finished", 3, 0)
    reasons = set(job.items.values_list("reason", flat=True))
    assert len(reasons) == 1 and "needs approval" in reasons.pop()
    assert _upstream_statuses(upstream, targets) == {"open"}


def test_a_job_that_does_not_dismiss_still_runs(
    synced, team, admin, triager, upstream, client_factory, django_capture_on_commit_callbacks
):
    targets = list(Finding.objects.filter(connection=synced, status="open")[:2])
    job = status_job_queued(team, triager, targets, "resolved", django_capture_on_commit_callbacks)
    dismissals_need_approval_set(team, admin)
    job = status_job_ran(job, client_factory)
    assert (job.changed, job.failed) == (2, 0)


# The cap


@pytest.fixture
def small_cap(monkeypatch):
    monkeypatch.setattr(findings_services, "MAX_JOB_ITEMS", 5)
    return 5


def test_a_list_of_ids_over_the_cap_is_read_no_further_than_the_cap(
    synced, team, triager, small_cap
):
    pks = list(Finding.objects.filter(connection=synced).values_list("pk", flat=True)[:20])
    assert len(pks) > small_cap + 1
    drawn = []

    def ids():
        for pk in pks:
            drawn.append(pk)
            yield pk

    with CaptureQueriesContext(db) as queries, pytest.raises(ServiceError, match="at most 5"):
        finding_status_job_create(team=team, actor=triager, finding_ids=ids(), status="resolved")
    assert len(drawn) == small_cap + 1
    finding_queries = [q["sql"] for q in queries if '"triage_finding"' in q["sql"]]
    assert finding_queries and all(str(pks[small_cap + 1]) not in q for q in finding_queries)
    assert not FindingStatusJob.objects.exists()


def test_a_filtered_selection_over_the_cap_stays_a_subquery_with_a_limit(
    synced, team, triager, small_cap
):
    selection = Finding.objects.filter(connection=synced).values_list("pk", flat=True)
    assert selection.count() > small_cap + 1
    with CaptureQueriesContext(db) as queries, pytest.raises(ServiceError, match="at most 5"):
        finding_status_job_create(
            team=team, actor=triager, finding_ids=selection, status="resolved"
        )
    (read,) = [q["sql"] for q in queries if 'FROM "triage_finding"' in q["sql"]]
    assert "LIMIT 6" in read and read.count("SELECT") == 2  # the ids stay inside the query
    assert not FindingStatusJob.objects.exists()


def test_a_selection_at_the_cap_makes_a_job(synced, team, triager, small_cap):
    pks = list(Finding.objects.filter(connection=synced).values_list("pk", flat=True)[:5])
    job = finding_status_job_create(
        team=team, actor=triager, finding_ids=[*pks, pks[0]], status="resolved"
    )
    assert job.total == 5
