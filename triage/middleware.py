import time
import zoneinfo

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.middleware import LoginRequiredMiddleware
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
