"""Settings of the load test's server: the portal's own, with each request's CPU time
written down (loadtest/server_cpu.py). Only the measured gunicorn of `make loadtest` runs
with them (DJANGO_SETTINGS_MODULE=loadtest.server_settings)."""

from portal.settings import *  # noqa: F403

MIDDLEWARE = ["loadtest.server_cpu.RequestCpuMiddleware", *MIDDLEWARE]  # noqa: F405
