"""Bulk status jobs against the sandbox, with faults injected: each item's outcome, retries,
undo, and a mirror equal to Kolega afterwards. The runner is called directly with one
request at a time, so the sandbox's seeded faults fall on the same requests every run."""

import pytest

from tests.triage.findings.status_jobs import Outcome, status_job_queued, status_job_ran
from tests.triage.sync.mirror_equality import mirror_differences
from triage.models import AuditEvent, Finding, FindingStatusJob, Role
from triage.services.errors import RoleRequired, ServiceError
from triage.services.findings import (
    finding_status_job_create,
    finding_status_job_retry_failed,
    finding_status_job_undo,
    finding_status_set,
)

pytestmark = pytest.mark.django_db


def _findings_differences(connection, upstream) -> list[str]:
    # Status changes add finding events that only the next sync mirrors; findings must match now.
    return [
        p
        for p in mirror_differences(connection, upstream)
        if p.startswith("finding ") and not p.startswith("finding events")
    ]


def _upstream_status(upstream, finding: Finding) -> str:
    return upstream.get_finding(
        repository_id=finding.repository.upstream_id, finding_id=finding.upstream_id
    ).status


def test_exact_outcomes_with_rate_limits_and_a_finding_kolega_lost(
    synced,
    team,
    triager,
    demo_faults,
    upstream,
    client_factory,
    sleeps,
    django_capture_on_commit_callbacks,
):
    from sandbox.models import Finding as SandboxFinding

    open_findings = list(Finding.objects.filter(connection=synced, status="open")[:8])
    already = open_findings[:2]
    for finding in already:
        finding_status_set(team=team, actor=triager, finding=finding, status="false_positive")
    lost = open_findings[2]
    SandboxFinding.objects.filter(id=lost.upstream_id).delete()
    to_change = open_findings[3:]
    demo_faults.set(rate_429=0.5, retry_after_seconds=1, seed=7)

    job = status_job_queued(
        team,
        triager,
        open_findings,
        "false_positive",
        django_capture_on_commit_callbacks,
        comment="Test fixtures, not production code",
    )
    status_job_ran(job, client_factory)
    demo_faults.clear()

    job.refresh_from_db()
    outcomes = {item.finding_id: item for item in job.items.all()}
    assert {pk for pk, i in outcomes.items() if i.outcome == Outcome.UNCHANGED} == {
        f.pk for f in already
    }
    assert {pk for pk, i in outcomes.items() if i.outcome == Outcome.CHANGED} == {
        f.pk for f in to_change
    }
    assert outcomes[lost.pk].outcome == Outcome.FAILED
    assert "no longer knows" in outcomes[lost.pk].reason
    assert (job.state, job.changed, job.unchanged, job.failed) == ("finished", 5, 2, 1)
    # Kolega refused with 429 and the client waited exactly as long as Retry-After said.
    assert client_factory.clients[0].stats.by_status[429] > 0
    assert sleeps and set(sleeps) == {1.0}
    for finding in to_change + already:
        assert _upstream_status(upstream, finding) == "false_positive"
    assert _findings_differences(synced, upstream) == []
    audited = AuditEvent.objects.filter(action="finding.status_change", details__job=job.pk)
    assert sorted(int(e.target_id) for e in audited) == sorted(f.pk for f in to_change)
    assert {e.details["comment"] for e in audited} == {"Test fixtures, not production code"}
    assert {e.actor_label for e in audited} == {"tess"}


def test_failures_are_recorded_then_retried_in_the_same_job(
    synced, team, triager, demo_faults, upstream, client_factory, django_capture_on_commit_callbacks
):

    targets = list(Finding.objects.filter(connection=synced, status="open")[:4])
    demo_faults.set(rate_5xx=1.0, retry_after_seconds=0, seed=3)
    job = status_job_queued(team, triager, targets, "ignored", django_capture_on_commit_callbacks)

    job = status_job_ran(job, client_factory)
    assert (job.changed, job.unchanged, job.failed) == (0, 0, 4)
    for item in job.items.all():
        assert item.outcome == Outcome.FAILED
        assert "unavailable" in item.reason or "cannot read" in item.reason, item.reason
    # Nothing Kolega did not accept reached the mirror or the audit log.
    assert set(
        Finding.objects.filter(pk__in=[f.pk for f in targets]).values_list("status", flat=True)
    ) == {"open"}
    assert not AuditEvent.objects.filter(action="finding.status_change").exists()

    demo_faults.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        finding_status_job_retry_failed(job=job, actor=triager)
    assert len(callbacks) == 1
    job = status_job_ran(job, client_factory)
    assert (job.state, job.changed, job.failed, job.runs) == ("finished", 4, 0, 2)
    assert all(item.attempts >= 2 for item in job.items.all())
    for finding in targets:
        assert _upstream_status(upstream, finding) == "ignored"
    assert _findings_differences(synced, upstream) == []
    with pytest.raises(ServiceError, match="Nothing failed"):
        finding_status_job_retry_failed(job=job, actor=triager)


def test_partial_server_errors_leave_mirror_and_kolega_agreeing_item_by_item(
    synced, team, triager, demo_faults, upstream, client_factory, django_capture_on_commit_callbacks
):

    targets = list(Finding.objects.filter(connection=synced, status="open")[:12])
    # Fewer attempts than faults in a row: some items fail, the others go through.
    demo_faults.set(rate_5xx=0.6, retry_after_seconds=0, seed=11)

    def few_attempts(connection):
        from triage.kolega import RetryPolicy

        client = client_factory(connection)
        client._retry_policy = RetryPolicy(max_attempts=2)
        return client

    job = status_job_queued(
        team, triager, targets, "needs_manual_review", django_capture_on_commit_callbacks
    )
    status_job_ran(job, few_attempts)

    demo_faults.clear()
    job.refresh_from_db()
    assert job.changed > 0 and job.failed > 0, (job.changed, job.failed)
    for item in job.items.select_related("finding", "finding__repository"):
        upstream_status = _upstream_status(upstream, item.finding)
        if item.outcome == Outcome.CHANGED:
            assert upstream_status == "needs_manual_review"
        else:
            assert item.outcome == Outcome.FAILED and item.reason
        # A 500 may come after Kolega applied the change; the mirror never claims more
        # than Kolega answered, and the next sync settles the rest.
        assert item.finding.status in {"open", upstream_status}
        if item.outcome == Outcome.CHANGED:
            assert item.finding.status == upstream_status


def test_undo_sets_each_changed_finding_back_to_its_previous_status(
    synced, team, triager, upstream, client_factory, django_capture_on_commit_callbacks
):
    open_one, open_two = Finding.objects.filter(connection=synced, status="open")[:2]
    review = Finding.objects.filter(connection=synced, status="open")[2]
    finding_status_set(team=team, actor=triager, finding=review, status="needs_manual_review")
    already = Finding.objects.filter(connection=synced, status="open")[3]
    finding_status_set(team=team, actor=triager, finding=already, status="resolved")
    targets = [open_one, open_two, review, already]
    job = status_job_queued(team, triager, targets, "resolved", django_capture_on_commit_callbacks)
    status_job_ran(job, client_factory)

    with django_capture_on_commit_callbacks(execute=False):
        undo = finding_status_job_undo(job=job, actor=triager)
    undo = status_job_ran(undo, client_factory)
    assert undo.undo_of == job
    assert (undo.total, undo.changed, undo.failed) == (3, 3, 0)
    expected = {open_one.pk: "open", open_two.pk: "open", review.pk: "needs_manual_review"}
    expected[already.pk] = "resolved"  # it was already resolved: the job did not change it
    for finding in targets:
        finding.refresh_from_db()
        assert finding.status == expected[finding.pk]
        assert _upstream_status(upstream, finding) == expected[finding.pk]
    assert _findings_differences(synced, upstream) == []
    with pytest.raises(ServiceError, match="already been undone"):
        finding_status_job_undo(job=job, actor=triager)


def test_a_revoked_key_fails_every_item_and_changes_nothing_locally(
    synced, team, triager, demo_faults, client_factory, django_capture_on_commit_callbacks
):

    targets = list(Finding.objects.filter(connection=synced, status="open")[:3])
    before = {f.pk: (f.status, f.updated_at) for f in targets}
    demo_faults.set(revoke_key_prefix=synced.key_prefix)
    job = status_job_queued(team, triager, targets, "resolved", django_capture_on_commit_callbacks)

    status_job_ran(job, client_factory)

    assert {item.reason for item in job.items.all()} == {
        "Kolega rejected this connection's key. An admin must replace it in Settings."
    }
    after = {f.pk: (f.status, f.updated_at) for f in Finding.objects.filter(pk__in=before)}
    assert after == before
    with pytest.raises(ServiceError, match="rejected this connection's key"):
        finding_status_set(team=team, actor=triager, finding=targets[0], status="ignored")
    assert Finding.objects.get(pk=targets[0].pk).status == before[targets[0].pk][0]


def test_viewers_cannot_create_jobs_and_ids_of_other_teams_are_ignored(
    synced, team, other_team, member, triager, django_capture_on_commit_callbacks
):
    finding = Finding.objects.filter(connection=synced).first()
    with pytest.raises(RoleRequired):
        finding_status_job_create(
            team=team, actor=member(Role.VIEWER), finding_ids=[finding.pk], status="resolved"
        )
    outsider = member(Role.TRIAGER, of=other_team)
    with pytest.raises(ServiceError, match="Select at least one"):
        finding_status_job_create(
            team=other_team, actor=outsider, finding_ids=[finding.pk], status="resolved"
        )
    with pytest.raises(ServiceError, match="not a finding status"):
        finding_status_job_create(
            team=team, actor=triager, finding_ids=[finding.pk], status="deleted"
        )
    assert not FindingStatusJob.objects.exists()
