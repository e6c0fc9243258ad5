"""Team membership and role checks, done on the server for every team view."""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import Http404

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
            membership = (
                Membership.objects.select_related("team")
                .filter(team__slug=team_slug, user=request.user)
                .first()
            )
            if membership is None:
                raise Http404("No such team")
            needed = read if request.method in SAFE_METHODS else (write or read)
            if not membership.has_role(needed):
                raise PermissionDenied(f"This needs the {Role(needed).label} role.")
            request.team = membership.team
            request.membership = membership
            return view(request, *args, **kwargs)

        wrapped.team_roles = {"read": read, "write": write or read}
        return wrapped

    return decorator


def can(request, role: Role) -> bool:
    membership = getattr(request, "membership", None)
    return membership is not None and membership.has_role(role)
