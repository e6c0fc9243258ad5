"""The portal's Celery application; tasks live in triage/tasks.py."""

import os

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger

from portal.logging import RedactSecretsFilter

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@after_setup_logger.connect
@after_setup_task_logger.connect
def _redact_secrets_in_worker_logs(logger, **kwargs):
    """Workers and beat replace the root handlers that carry the portal's key redaction (see
    LOGGING), and most Kolega calls run in workers: put the filter on Celery's handlers too."""
    for handler in logger.handlers:
        if not any(isinstance(f, RedactSecretsFilter) for f in handler.filters):
            handler.addFilter(RedactSecretsFilter())
