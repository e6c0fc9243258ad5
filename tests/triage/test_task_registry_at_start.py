"""A web process can queue every task the services name from its first request on.

Services queue tasks by name through Celery's registry; a process that never imported the
tasks module (a fresh gunicorn worker) must still find them there.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHECK = """
import django
django.setup()
from celery import current_app
from triage.task_queue import TaskName
missing = [name for name in TaskName if name not in current_app.tasks]
print("missing:", missing)
raise SystemExit(1 if missing else 0)
"""


def test_a_fresh_process_has_every_named_task_registered():
    run = subprocess.run(
        [sys.executable, "-c", CHECK],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr[-2000:]
