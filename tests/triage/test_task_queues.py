"""Every task in one module, under one retry policy, on a queue a default worker consumes."""

from django.conf import settings

from portal.celery import app
from triage import tasks
from triage.kolega import KolegaUnavailable
from triage.task_queue import TaskName, task_send


def _portal_tasks():
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if name.startswith("triage.")}


def test_every_task_is_defined_in_the_tasks_module_under_a_known_name():
    registered = _portal_tasks()
    assert set(registered) == {str(name) for name in TaskName}
    assert {task.__module__ for task in registered.values()} == {"triage.tasks"}


def test_every_task_has_the_one_retry_policy():
    for name, task in _portal_tasks().items():
        assert task.acks_late and task.reject_on_worker_lost, name
        assert task.autoretry_for == (KolegaUnavailable,), name
        assert task.retry_backoff and task.retry_jitter and task.max_retries == 6, name
        assert task.time_limit and task.soft_time_limit < task.time_limit, name


def test_every_task_runs_on_a_queue_that_a_worker_started_without_q_consumes():
    declared = {queue.name for queue in settings.CELERY_TASK_QUEUES}
    assert {"sync", "tracking", "bulk", "reports", "mail"} <= declared
    assert settings.CELERY_TASK_DEFAULT_QUEUE in declared
    router = app.amqp.router
    for name in _portal_tasks():
        route = router.route({}, name)
        assert route["queue"].name in declared, name
    assert router.route({}, TaskName.RUN_FINDING_STATUS_JOB)["queue"].name == "bulk"
    assert router.route({}, TaskName.SYNC_CONNECTION)["queue"].name == "sync"
    assert router.route({}, TaskName.TRACK_FIX)["queue"].name == "tracking"
    assert router.route({}, TaskName.REPORT_SNAPSHOTS_REFRESH)["queue"].name == "reports"


def test_a_task_queued_by_name_is_the_task_the_tasks_module_defines(monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.track_fix, "delay", lambda *args: sent.append(args))

    task_send(TaskName.TRACK_FIX, 7)

    assert sent == [(7,)]
