"""A task that writes down which worker ran it, loaded into the scale-out test's workers with
``--include``: a batch of them shows each message is run once across the workers."""

import time

import redis
from celery import current_task
from django.conf import settings

from portal.celery import app

RUNS_KEY = "scale-out:runs"


@app.task(name="tests.portal.scale_out_probe")
def scale_out_probe(number: int) -> None:
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.rpush(RUNS_KEY, f"{number} {current_task.request.hostname}")
    # Long enough for the other worker to take the next message meanwhile.
    time.sleep(0.1)
