from django.conf import settings

from portal.celery import app


def test_every_scheduled_task_exists():
    app.loader.import_default_modules()
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in app.tasks, name


def test_nightly_snapshot_refresh_fans_out_per_team(db, team, other_team, monkeypatch):
    from triage import tasks

    queued = []
    monkeypatch.setattr(tasks.report_snapshots_refresh, "delay", queued.append)

    assert tasks.report_snapshots_refresh_all() == 2
    assert sorted(queued) == sorted([team.pk, other_team.pk])
