"""Celery tasks of the reports area (thin wrappers over services)."""

from celery import shared_task
from django.core.cache import cache

from triage.models import Team
from triage.services.reports import report_snapshots_rebuild

# One rebuild per team at a time is enough: views ask for one on every stale visit.
REFRESH_LOCK_SECONDS = 300


@shared_task(acks_late=True, reject_on_worker_lost=True, time_limit=900, soft_time_limit=840)
def report_snapshots_refresh(team_id: int) -> int:
    """Rebuild a team's daily snapshots from its finding events. Idempotent: a rebuild
    replaces all of the team's rows with what the events say."""
    team = Team.objects.filter(pk=team_id).first()
    if team is None:
        return 0
    lock = f"reports:snapshots-refresh:{team_id}"
    if not cache.add(lock, "1", REFRESH_LOCK_SECONDS):
        return 0
    try:
        return report_snapshots_rebuild(team=team)
    finally:
        cache.delete(lock)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def report_snapshots_refresh_all() -> int:
    """Beat, nightly: rebuild every team's snapshots so a new day's row exists before anyone
    opens the reports."""
    team_ids = list(Team.objects.values_list("pk", flat=True))
    for team_id in team_ids:
        report_snapshots_refresh.delay(team_id)
    return len(team_ids)
