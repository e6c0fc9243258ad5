"""The portal's Celery application; tasks live in triage/tasks.py."""

import os

from celery import Celery
from celery.apps.worker import Worker
from celery.signals import after_setup_logger, after_setup_task_logger
from kombu.utils.objects import cached_property

from portal.logging import RedactSecretsFilter

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")


class PortalWorker(Worker):
    """A worker without the gossip and mingle steps, however it is started.

    When the broker connection drops, Celery's consumer sets its connection to None before
    restarting its steps; gossip (and mingle, which runs again at reconnect) then use that
    connection and fail with ``AttributeError: 'NoneType' object has no attribute 'hostname'``
    (or ``'connection_errors'``). Seen with celery/kombu 5.7.0, the newest release, on a Redis
    restart: sometimes logged, sometimes the worker exited. The portal uses neither step
    (gossip tracks other workers' events, mingle shares revoked task ids at start), so they
    are switched off here rather than on every command line (`make run`, compose, tests).
    """

    def __init__(self, *args, **kwargs):
        kwargs.update(without_gossip=True, without_mingle=True)
        super().__init__(*args, **kwargs)


class PortalCelery(Celery):
    @cached_property
    def Worker(self):
        return self.subclass_with_self(PortalWorker)


app = PortalCelery("portal")
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
