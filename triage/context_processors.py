from django.conf import settings
from django.utils.functional import SimpleLazyObject

from triage.models import Membership, Role

NAVIGATION = (
    ("dashboard", "Dashboard"),
    ("scans", "Scans"),
    ("findings", "Findings"),
    ("my-queue", "My queue"),
    ("repositories", "Repositories"),
    ("fixes", "Fixes"),
    ("campaigns", "Campaigns"),
    ("pull-requests", "Pull requests"),
    ("approvals", "Approvals"),
    ("reports", "Reports"),
    ("settings", "Settings"),
)


def portal(request):
    """Header and navigation: the user's teams, the current team and the user's role in it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        # The sign-in page offers single sign-on when an identity provider is set up.
        sso_on = bool(settings.PORTAL_OIDC_ISSUER and settings.OIDC_RP_CLIENT_ID)
        return {"sso_button_label": settings.PORTAL_OIDC_BUTTON_LABEL if sso_on else ""}
    membership = getattr(request, "membership", None)
    memberships = getattr(request, "memberships", None)
    if memberships is None:
        memberships = list(Membership.objects.filter(user=user).select_related("team"))
    match = getattr(request, "resolver_match", None)
    return {
        "memberships": memberships,
        "current_team": membership.team if membership else None,
        "current_role": Role(membership.role) if membership else None,
        "navigation": NAVIGATION,
        "nav_active": (getattr(match, "url_name", "") or "").split("-")[0],
        "Role": Role,
        # Shown as a count beside "Approvals" for people who can approve (one query).
        "approvals_pending_count": _approvals_pending_count(membership),
        # The connections whose data may be stale, shown above every team page; queried only
        # when a full page renders it (fragments do not).
        "mirror_staleness": _mirror_staleness(membership),
    }


def _mirror_staleness(membership):
    from triage.selectors.sync import mirror_stale_connections

    if membership is None:
        return []
    return SimpleLazyObject(lambda: mirror_stale_connections(team_id=membership.team_id))


def _approvals_pending_count(membership) -> int | None:
    from triage.models import DismissalRequest, FixApproval

    if membership is None or not membership.has_role(Role.APPROVER):
        return None
    # Fix approvals and dismissals waiting, counted in one query (UNION ALL keeps equal ids).
    fixes = (
        FixApproval.objects.filter(team_id=membership.team_id, status=FixApproval.Status.PENDING)
        .values("pk")
        .order_by()
    )
    dismissals = (
        DismissalRequest.objects.filter(
            team_id=membership.team_id, status=DismissalRequest.Status.PENDING
        )
        .values("pk")
        .order_by()
    )
    return fixes.union(dismissals, all=True).count()
