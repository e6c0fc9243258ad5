"""Bulk status jobs made and run through the portal's own services, one request at a time."""

from triage.models import FindingStatusJob
from triage.services.findings import finding_status_job_create, finding_status_job_run

# What became of one finding of a job.
Outcome = FindingStatusJob.items.rel.related_model.Outcome


def status_job_queued(team, actor, findings, status, capture, **kwargs) -> FindingStatusJob:
    """A job setting ``findings`` to ``status``, its task queued (once) on commit, not run;
    ``capture`` is pytest-django's ``django_capture_on_commit_callbacks``."""
    with capture(execute=False) as callbacks:
        job = finding_status_job_create(
            team=team, actor=actor, finding_ids=[f.pk for f in findings], status=status, **kwargs
        )
    assert len(callbacks) == 1  # the task is queued once the job is committed
    return job


def status_job_ran(job: FindingStatusJob, client_factory) -> FindingStatusJob:
    """Run ``job`` as the worker does, one request at a time; the job, read back."""
    finding_status_job_run(job_id=job.pk, client_factory=client_factory, concurrency=1)
    job.refresh_from_db()
    return job
