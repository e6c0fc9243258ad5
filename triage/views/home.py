from django.contrib import messages
from django.shortcuts import redirect, render

from triage.forms.settings import PreferenceForm
from triage.models import Membership, SsoIdentity, UserPreference
from triage.services.sso import group_mappings_of


def home(request):
    """Send a signed-in user to their first team, or explain that they have none yet."""
    membership = Membership.objects.filter(user=request.user).select_related("team").first()
    if membership is not None:
        return redirect("dashboard", team_slug=membership.team.slug)
    return render(request, "triage/no_team.html")


def preferences(request):
    preference, _ = UserPreference.objects.get_or_create(user=request.user)
    if request.method == "POST":
        form = PreferenceForm(request.POST)
        if form.is_valid():
            preference.timezone = form.cleaned_data["timezone"]
            preference.save(update_fields=["timezone"])
            messages.success(request, "Preferences saved.")
            return redirect("preferences")
    else:
        form = PreferenceForm(initial={"timezone": preference.timezone})
    identity = SsoIdentity.objects.filter(user=request.user).first()
    return render(
        request,
        "account/preferences.html",
        {
            "form": form,
            "sso_identity": identity,
            # Why the user has their roles: each group last received and what it maps to.
            "sso_groups": group_mappings_of(identity.groups) if identity else {},
            "memberships_with_source": Membership.objects.filter(user=request.user)
            .select_related("team")
            .order_by("team__name"),
        },
    )
