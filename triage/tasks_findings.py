"""Celery tasks of the findings area (thin wrappers over services)."""

from celery import shared_task

from triage.kolega import KolegaUnavailable
from triage.services.dismissals import dismissals_expire
from triage.services.findings import finding_status_job_run


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(KolegaUnavailable,),
    retry_backoff=15,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=5,
)
def run_finding_status_job(job_id: int) -> None:
    # Each item's Kolega failure is recorded as its outcome, not raised: a redelivery or
    # retry continues with the items still pending.
    finding_status_job_run(job_id=job_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, time_limit=600)
def expire_dismissals() -> int:
    # Each expired dismissal's findings are reopened by a status job of its own; a second
    # run finds the requests already expired and queues nothing.
    return len(dismissals_expire())
