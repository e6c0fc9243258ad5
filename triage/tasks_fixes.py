"""Celery tasks of the fixes area (thin wrappers over services)."""

from celery import shared_task

from triage.kolega import KolegaUnavailable
from triage.models import PullRequestOpening


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    # Only reconciling an unknown outcome is retried: the POST itself is sent at most once
    # (the opening leaves `pending` before it is sent), so a retry can never send it again.
    autoretry_for=(KolegaUnavailable,),
    retry_backoff=10,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=6,
)
def open_pull_requests(opening_id: int) -> str:
    from triage.services.approvals import pull_request_opening_send

    if not PullRequestOpening.objects.filter(pk=opening_id).exists():
        return "gone"
    return pull_request_opening_send(opening_id=opening_id).status
