"""Preferences → Email: per event kind immediate, in the daily digest or off; which report
digests the member gets; "Send me one now" to try a digest. The member's own settings only."""

from django.contrib import messages
from django.shortcuts import render
from django.urls import path

from triage.forms.digests import EmailPreferencesForm, SendDigestNowForm
from triage.selectors import digests as selectors
from triage.services import digests as services
from triage.services.errors import ServiceError
from triage.views.htmx import redirect_after_post

TEMPLATE = "account/email_preferences.html"


def email_preferences(request):
    user = request.user
    action = request.POST.get("action") if request.method == "POST" else None
    form = EmailPreferencesForm(
        request.POST if action == "save" else None,
        initial=EmailPreferencesForm.initial_of(
            choices=selectors.email_choices_of(user),
            cadences=selectors.digest_subscription_of(user).cadences,
        ),
    )
    send_form = SendDigestNowForm(request.POST if action == "send_now" else None)
    status = 200
    if request.method == "POST":
        try:
            if action == "save" and form.is_valid():
                services.email_preferences_set(
                    user=user, choices=form.chosen, daily=form.daily, weekly=form.weekly
                )
                messages.success(request, "Email preferences saved.")
                return redirect_after_post(request, "email-preferences")
            if action == "send_now" and send_form.is_valid():
                cadence = send_form.cleaned_data["cadence"]
                services.digest_send_now(user=user, cadence=cadence)
                messages.success(request, f"A {cadence} digest was sent to {user.email}.")
                return redirect_after_post(request, "email-preferences")
            if action not in ("save", "send_now"):
                raise ServiceError("Unknown action.")
        except ServiceError as exc:
            messages.error(request, exc.message)
            return redirect_after_post(request, "email-preferences")
        status = 400
    return render(
        request,
        TEMPLATE,
        {"form": form, "send_form": send_form, "email": user.email},
        status=status,
    )


urlpatterns = [
    path("account/preferences/email/", email_preferences, name="email-preferences"),
]
