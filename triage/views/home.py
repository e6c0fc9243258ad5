from django.contrib import messages
from django.shortcuts import redirect, render

from triage.forms.settings import PreferenceForm
from triage.models import Membership, UserPreference


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
    return render(request, "account/preferences.html", {"form": form})
