"""Team membership and role checks, done on the server for every team view."""

from functools import wraps
from urllib.parse import urlencode

from django.contrib.auth import BACKEND_SESSION_KEY
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from triage.models import Membership, Role

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def team_view(*, read: Role = Role.VIEWER, write: Role | None = None):
    """Resolve ``team_slug`` to the user's membership and enforce roles.

    A team the user is not a member of answers 404 (its existence is not revealed); a role
    below ``read`` answers 403, and so does any unsafe method below ``write``. The roles are
    kept on the view so the URL sweep in the tests can read what each view needs.
    """

    def decorator(view):
        @wraps(view)
        def wrapped(request, team_slug: str, *args, **kwargs):
            if not request.user.is_authenticated:
                raise PermissionDenied
            # Every team of the user in one query: the header's team switcher lists them.
            # With the team's policies, which most team pages read.
            memberships = list(
                Membership.objects.select_related(
                    "team", "team__sla_policy", "team__approval_policy"
                ).filter(user=request.user)
            )
            membership = next((m for m in memberships if m.team.slug == team_slug), None)
            if membership is None:
                raise Http404("No such team")
            needed = read if request.method in SAFE_METHODS else (write or read)
            if not membership.has_role(needed):
                raise PermissionDenied(f"This needs the {Role(needed).label} role.")
            if membership.team.require_totp and not second_factor_ready(request):
                return _enrolment_redirect(request, membership.team)
            request.team = membership.team
            request.membership = membership
            request.memberships = memberships
            return view(request, *args, **kwargs)

        wrapped.team_roles = {"read": read, "write": write or read}
        return wrapped

    return decorator


def signed_in_by_sso(request) -> bool:
    from triage.services.two_factor import SSO_BACKEND

    return request.session.get(BACKEND_SESSION_KEY) == SSO_BACKEND


def second_factor_ready(request) -> bool:
    """Whether the session meets a team's "members need an authenticator app": signed in
    through single sign-on (the provider does MFA), or its user has a confirmed device."""
    from triage.services import two_factor

    if signed_in_by_sso(request):
        return True
    enrolled = request.session.get(two_factor.SESSION_ENROLLED)
    if enrolled is None:  # a session begun before the flag was kept
        enrolled = two_factor.confirmed_authenticator(request.user) is not None
        request.session[two_factor.SESSION_ENROLLED] = enrolled
    return enrolled


def _enrolment_redirect(request, team):
    target = f"{reverse('two-factor')}?{urlencode({'team': team.slug})}"
    if request.headers.get("HX-Request"):
        return HttpResponse(status=401, headers={"HX-Redirect": target})
    return redirect(target)


def can(request, role: Role) -> bool:
    membership = getattr(request, "membership", None)
    return membership is not None and membership.has_role(role)
