import time
import zoneinfo
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.core.signals import got_request_exception
from django.http import HttpResponse
from django.shortcuts import redirect, resolve_url
from django.utils import timezone

SESSION_STARTED_KEY = "portal_session_started_at"
SESSION_REFRESHED_KEY = "portal_session_refreshed_at"


class SessionLifetimeMiddleware:
    """End a session after ``PORTAL_SESSION_ABSOLUTE_SECONDS`` however active it is, and
    slide its idle expiry (``SESSION_COOKIE_AGE``) forward while it is used.

    Sliding on every request would write the session row on every page view; it slides
    when ``PORTAL_SESSION_REFRESH_SECONDS`` have passed since the last slide, so the idle
    limit is kept to within that margin. The absolute limit is stamped at the first request
    of the session after sign-in.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            started = request.session.get(SESSION_STARTED_KEY)
            now = time.time()
            if started is None:
                request.session[SESSION_STARTED_KEY] = now
            if now - request.session.get(SESSION_REFRESHED_KEY, 0) >= (
                settings.PORTAL_SESSION_REFRESH_SECONDS
            ):
                # A changed session is saved with a new expiry and cookie.
                request.session[SESSION_REFRESHED_KEY] = now
            if started is not None and now - started > settings.PORTAL_SESSION_ABSOLUTE_SECONDS:
                logout(request)
                if request.headers.get("HX-Request"):
                    return HttpResponse(status=401, headers={"HX-Redirect": resolve_url("login")})
                return redirect(f"{resolve_url(settings.LOGIN_URL)}?next={request.path}")
        return self.get_response(request)


class PortalLoginRequiredMiddleware(LoginRequiredMiddleware):
    """Every page needs a signed-in user; htmx fragments answer 401 and send the browser to login
    instead of swapping the login page into a fragment."""

    def handle_no_permission(self, request, view_func):
        if request.headers.get("HX-Request"):
            return HttpResponse(status=401, headers={"HX-Redirect": resolve_url("login")})
        return super().handle_no_permission(request, view_func)


class UserTimezoneMiddleware:
    """Show times in the user's own time zone; they are stored in UTC."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        tzname = None
        if request.user.is_authenticated:
            preference = getattr(request.user, "preference", None)
            tzname = getattr(preference, "timezone", None)
        try:
            timezone.activate(zoneinfo.ZoneInfo(tzname)) if tzname else timezone.deactivate()
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.deactivate()
        return self.get_response(request)


DATABASE_UNAVAILABLE_RETRY_AFTER = "10"


class DatabaseUnavailableMiddleware:
    """Answer 503 with a plain "database unavailable" page while the database cannot be reached,
    instead of a 500 traceback from whichever layer met the failure first.

    Django turns an exception raised in any middleware or view into a response where it is
    raised, so this outermost middleware cannot catch it; `got_request_exception` (sent for
    every such exception) marks the request, and the marked request's response is replaced.
    The page is rendered without the request: no context processor, session or user, so it
    needs no database. `/healthz` keeps its JSON shape and names the database.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(request, "_portal_database_unavailable", False):
            return database_unavailable_response(request)
        return response


def database_unavailable_response(request) -> HttpResponse:
    from django.http import JsonResponse
    from django.template.loader import render_to_string

    if request.path == resolve_url("healthz"):
        body = {"status": "unavailable", "database": "down", "down": ["database"]}
        response = JsonResponse(body, status=503)
    else:
        response = HttpResponse(render_to_string("503_database.html"), status=503)
    response["Retry-After"] = DATABASE_UNAVAILABLE_RETRY_AFTER
    response["Cache-Control"] = "no-store"
    return response


def _database_error_mark(sender, request=None, **kwargs):
    import sys

    from django.db import InterfaceError, OperationalError

    error = sys.exc_info()[1]
    if request is not None and isinstance(error, OperationalError | InterfaceError):
        request._portal_database_unavailable = True


got_request_exception.connect(_database_error_mark, dispatch_uid="portal-database-unavailable")


class SecondStepMiddleware:
    """A session that signed in with the password of an account with a confirmed authenticator
    reaches only the second-step page (and sign-out) until a code is given."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from triage.services.two_factor import SESSION_PENDING

        if request.user.is_authenticated and request.session.get(SESSION_PENDING):
            allowed = {resolve_url("second-step"), resolve_url("logout")}
            if request.path not in allowed and not request.path.startswith(settings.STATIC_URL):
                query = urlencode({"next": request.get_full_path()})
                target = f"{resolve_url('second-step')}?{query}"
                if request.headers.get("HX-Request"):
                    return HttpResponse(status=401, headers={"HX-Redirect": target})
                return redirect(target)
        return self.get_response(request)
