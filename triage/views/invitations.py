"""The page an invitation's link opens: a signed-in person accepts and joins the team; an
anonymous visitor is sent to sign in and brought back; an unusable link says why."""

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from triage.models import Role
from triage.services import invitations as invitation_services
from triage.services.errors import ServiceError

UNUSABLE_STATUS = {"unknown": 404, "expired": 410, "revoked": 410, "accepted": 410}


@never_cache
def invitation(request, token: str):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    try:
        found = invitation_services.invitation_for_token(token)
    except invitation_services.InvitationUnusable as exc:
        return _unusable(request, exc)
    if request.method == "POST":
        try:
            membership = invitation_services.invitation_accept(token=token, user=request.user)
        except invitation_services.InvitationUnusable as exc:
            return _unusable(request, exc)
        except ServiceError as exc:
            messages.error(request, exc.message)
            return redirect("home")
        messages.success(
            request,
            f"Welcome to {membership.team.name}: you are a {Role(membership.role).label}.",
        )
        return redirect("dashboard", team_slug=membership.team.slug)
    return render(
        request,
        "triage/invitations/accept.html",
        {
            "invitation": found,
            "role_label": Role(found.role).label,
            "inviter": found.invited_by.get_username() if found.invited_by else "A team admin",
            "mismatch": invitation_services.addressee_mismatch(found, request.user),
        },
    )


def _unusable(request, exc):
    return render(
        request,
        "triage/invitations/unusable.html",
        {"message": exc.message, "reason": exc.reason},
        status=UNUSABLE_STATUS[exc.reason],
    )
