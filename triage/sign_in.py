"""Who is signing in, and how fast one account may be guessed at.

The lockout (django-axes) counts failures per account and client address. Behind a reverse
proxy every request comes from the proxy, so the address is read from ``X-Forwarded-For``,
trusting exactly ``PORTAL_TRUSTED_PROXY_HOPS`` proxies: an address a client wrote into the
header itself is never believed. Guesses spread over many addresses are slowed per account
instead: after ``PORTAL_SIGN_IN_SLOWDOWN_AFTER`` failures an account accepts one attempt per
wait, and the wait doubles with every further failure up to a ceiling. Refusing early costs
the server nothing, where sleeping would hold a worker thread per attempt.
"""

import hashlib
import ipaddress
import time

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver


def client_address(request) -> str | None:
    """The client's address as the trusted proxies saw it (``AXES_CLIENT_IP_CALLABLE``).

    With N trusted hops, the last proxy is ``REMOTE_ADDR`` and the N-1 before it appended
    their peers to ``X-Forwarded-For``: the client is the N-th address from the right of
    that chain. Entries left of it were written by the client and are ignored.
    """
    remote = request.META.get("REMOTE_ADDR")
    hops = settings.PORTAL_TRUSTED_PROXY_HOPS
    if hops <= 0:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    chain = [part.strip() for part in forwarded.split(",") if part.strip()] + [remote]
    # Fewer entries than hops: the request skipped a proxy, so the leftmost one is its peer.
    candidate = chain[-(hops + 1)] if len(chain) > hops else chain[0]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def _now() -> float:
    return time.time()


def _key(username: str) -> str:
    digest = hashlib.sha256(username.strip().casefold().encode()).hexdigest()
    return f"sign-in-failures:{digest}"


def sign_in_wait_seconds(username: str) -> int:
    """Seconds until the account accepts another attempt; 0 when it accepts one now."""
    record = cache.get(_key(username))
    if not record:
        return 0
    failures, last_failure = record
    beyond = failures - settings.PORTAL_SIGN_IN_SLOWDOWN_AFTER
    if beyond < 0:
        return 0
    delay = min(2**beyond, settings.PORTAL_SIGN_IN_SLOWDOWN_MAX_SECONDS)
    return max(0, int(last_failure + delay - _now() + 0.999))


def local_sign_in_allowed(username: str) -> bool:
    """Whether ``username`` may sign in with a password (``PORTAL_LOCAL_SIGN_IN``, or one of
    ``PORTAL_BREAK_GLASS_USERS`` when it is off)."""
    if settings.PORTAL_LOCAL_SIGN_IN:
        return True
    wanted = username.strip().casefold()
    return any(wanted == name.strip().casefold() for name in settings.PORTAL_BREAK_GLASS_USERS)


class LocalSignInSwitchBackend:
    """First of the authentication backends: refuses a password while local sign-in is off,
    but for the break-glass usernames. Single sign-on passes no username and is not touched."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if not username or local_sign_in_allowed(username):
            return None
        if request is not None:
            request.portal_local_sign_in_off = True
        raise PermissionDenied


class SignInSlowdownBackend:
    """First of the authentication backends: refuses an attempt while its account waits.

    The password is not even checked then, so a guess made during the wait tells nothing.
    The lockout page explains the wait (``request.portal_sign_in_wait``). It signs no one
    in, so it has no ``get_user`` (like axes' backend): sessions name the model backend.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None or not username:
            return None
        wait = sign_in_wait_seconds(username)
        if wait:
            request.portal_sign_in_wait = wait
            request.axes_locked_out = True  # the lockout middleware answers with its page
            raise PermissionDenied
        return None


@receiver(user_login_failed, dispatch_uid="triage.sign_in.failure")
def _count_failure(sender, credentials, request=None, **kwargs):
    username = credentials.get("username")
    # An attempt refused during a wait was no guess: counting it would let anyone keep an
    # account waiting for ever.
    if (
        not username
        or getattr(request, "portal_sign_in_wait", None)
        or getattr(request, "portal_local_sign_in_off", None)
    ):
        return
    key = _key(username)
    failures = (cache.get(key) or (0, 0))[0] + 1
    cache.set(key, (failures, _now()), timeout=int(settings.AXES_COOLOFF_TIME.total_seconds()))


@receiver(user_logged_in, dispatch_uid="triage.sign_in.success")
def _reset_failures(sender, user, request=None, **kwargs):
    cache.delete(_key(user.get_username()))


@receiver(user_logged_in, dispatch_uid="triage.sign_in.second_step")
def _owe_second_step(sender, user, request=None, **kwargs):
    """A local sign-in of a user with a confirmed authenticator owes the second step before
    any page opens; a single sign-on leaves multi-factor authentication to the provider."""
    from triage.services import two_factor

    if request is None or not hasattr(request, "session"):
        return
    by_sso = getattr(user, "backend", "") == two_factor.SSO_BACKEND
    enrolled = two_factor.confirmed_authenticator(user) is not None
    request.session[two_factor.SESSION_ENROLLED] = enrolled
    request.session[two_factor.SESSION_PENDING] = enrolled and not by_sso
