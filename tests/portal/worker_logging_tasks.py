"""A task that logs what it is given, loaded into a test worker with ``--include``."""

import logging

from celery.utils.log import get_task_logger

from portal.celery import app


@app.task(name="tests.portal.log_text")
def log_text(text: str) -> None:
    # The three ways a key could reach a worker's log: a module logger (the Kolega client's),
    # Celery's task logger, and a stray print that the worker turns into a log record.
    logging.getLogger("triage.kolega").error("Kolega refused the key %s", text)
    get_task_logger(__name__).error("task logger saw Authorization: Bearer %s", text)
    print(f"printed {text}")
    logging.getLogger("triage.kolega").error("logged-text-done")
