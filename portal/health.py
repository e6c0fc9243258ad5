"""Liveness and readiness of the parts the portal needs: database and Celery broker.

Anyone may ask, so the answer says only which part is down (the cause goes to the log), and
a result is reused for ``PORTAL_HEALTH_CACHE_SECONDS``: a flood of requests opens at most one
broker connection per interval and process.
"""

import logging
import threading
import time

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

_clock = time.monotonic
_lock = threading.Lock()
_last: tuple[float, dict[str, str]] | None = None


def _database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # any failure means "down"; the log says why
        logger.warning("Health check: the database is down", exc_info=True)
        return "down"
    return "ok"


def _broker_status() -> str:
    from portal.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception:
        logger.warning("Health check: the Celery broker is down", exc_info=True)
        return "down"
    return "ok"


def health_checks() -> dict[str, str]:
    """The status of each part, from the last check if it is recent enough."""
    global _last
    with _lock:  # concurrent requests wait for one check instead of each running one
        now = _clock()
        if _last is not None and now - _last[0] < settings.PORTAL_HEALTH_CACHE_SECONDS:
            return _last[1]
        checks = {"database": _database_status(), "broker": _broker_status()}
        _last = (_clock(), checks)
        return checks


def health_checks_forget() -> None:
    """Drop the remembered result, so the next request checks again."""
    global _last
    with _lock:
        _last = None


@login_not_required
@never_cache
@require_GET
def healthz(request):
    checks = health_checks()
    healthy = all(value == "ok" for value in checks.values())
    body = {"status": "ok" if healthy else "unavailable", **checks}
    if not healthy:
        body["down"] = [name for name, value in checks.items() if value != "ok"]
    return JsonResponse(body, status=200 if healthy else 503)
