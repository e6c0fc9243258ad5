"""The nightly pruning task: scheduled, on its queue, one at a time; bad settings refused."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache

from portal.celery import app
from triage import tasks
from triage.models import AuditEvent, FindingEvent
from triage.task_queue import TaskName

ROOT = Path(__file__).resolve().parents[3]


def test_the_pruning_runs_nightly_on_the_bulk_queue_with_the_common_policy():
    entry = settings.CELERY_BEAT_SCHEDULE["prune-history-nightly"]
    assert entry["task"] == TaskName.PRUNE_HISTORY
    assert entry["schedule"].hour == {settings.PORTAL_PRUNE_HOUR}
    assert settings.CELERY_TASK_ROUTES[TaskName.PRUNE_HISTORY] == {"queue": "bulk"}
    task = app.tasks[TaskName.PRUNE_HISTORY]
    assert task.acks_late and task.max_retries == tasks.TASK_POLICY["max_retries"]


@pytest.mark.django_db
def test_the_task_prunes_and_a_second_one_meanwhile_returns(team, history, retention):
    cache.add("upkeep:prune-history", "1", 60)
    assert tasks.prune_history() == "already running"
    assert FindingEvent.objects.count() == history["events"]
    cache.delete("upkeep:prune-history")

    # The fixture's history is dated in 2026: seen from today, all of it is old.
    outcome = tasks.prune_history()

    assert outcome.startswith("deleted ")
    assert AuditEvent.objects.filter(team=team, action="history.prune").count() == 1
    assert cache.get("upkeep:prune-history") is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORTAL_EVENTS_RETENTION_DAYS", "-1"),
        ("PORTAL_SYNC_RUNS_RETENTION_DAYS", "-5"),
        ("PORTAL_PRUNE_BATCH_SIZE", "0"),
    ],
)
def test_a_negative_retention_or_empty_batch_is_refused_at_start(name, value):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update(DEBUG="1", DJANGO_SETTINGS_MODULE="portal.settings", **{name: value})
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert name in result.stderr
