"""Single sign-on pages: start a sign-in at the identity provider, come back from it, and sign
out of both. The flow's state, nonce and PKCE verifier are mozilla-django-oidc's; every failure
answers with a page that says what happened, never a stack trace."""

import logging
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import SuspiciousOperation
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from triage.oidc import provider
from triage.services.sso import SignInFailed

logger = logging.getLogger(__name__)

# reason → (what the person reads, HTTP status of the page)
FAILURE_MESSAGES = {
    "not_configured": ("Single sign-on is not set up in this portal.", 404),
    "provider_unavailable": (
        "The identity provider could not be reached. Try again in a few minutes; if it keeps "
        "failing, tell your portal administrator.",
        502,
    ),
    "provider_misconfigured": (
        "The identity provider's settings do not work with this portal. Tell your portal "
        "administrator.",
        502,
    ),
    "wrong_issuer": (
        "The identity provider answered as another issuer than the one this portal is set up "
        "for, so the sign-in was stopped. Tell your portal administrator.",
        502,
    ),
    "state": (
        "This sign-in cannot be finished: it was finished already, it was started in another "
        "browser, or it is too old. Start again.",
        400,
    ),
    "denied": ("The sign-in was cancelled or refused at the identity provider.", 403),
    "provider_refused": (
        "The identity provider would not finish this sign-in: its code was used already, has "
        "expired, or belongs to another application. Start again.",
        400,
    ),
    "invalid_token": (
        "The identity provider's answer could not be verified, so no one was signed in. Tell "
        "your portal administrator.",
        400,
    ),
    "claims": (
        "The identity provider did not send what the portal needs to know who you are (an "
        "identifier and an e-mail address). Tell your portal administrator.",
        400,
    ),
    "email_taken": (
        "An account with your e-mail address already exists in the portal, so a new one was "
        "not created. Ask a portal administrator to sort it out.",
        409,
    ),
    "no_group": (
        "None of your groups at the identity provider gives access to a team of this portal. "
        "Ask your administrator for a group that does.",
        403,
    ),
    "inactive": ("Your portal account is deactivated.", 403),
}


def failure_page(request, reason: str, detail: str = ""):
    message, status = FAILURE_MESSAGES.get(reason, FAILURE_MESSAGES["invalid_token"])
    logger.warning("single sign-on failed: %s %s", reason, detail)
    return render(
        request,
        "registration/sso_failed.html",
        {"message": message, "reason": reason},
        status=status,
    )


@method_decorator([login_not_required, never_cache], name="dispatch")
class SsoStartView(OIDCAuthenticationRequestView):
    """GET: send the browser to the provider's sign-in with a fresh state, nonce and PKCE
    challenge; `next` is kept only when it stays on this site."""

    def __init__(self, *args, **kwargs):
        # The library reads the endpoint from settings; here it is discovered per sign-in.
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_OP_AUTH_ENDPOINT = ""

    def get(self, request):
        try:
            metadata = provider.discover()
        except SignInFailed as error:
            return failure_page(request, error.reason, error.detail)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_OP_AUTH_ENDPOINT = metadata.authorization_endpoint
        return super().get(request)


@method_decorator([login_not_required, never_cache], name="dispatch")
class SsoCallbackView(OIDCAuthenticationCallbackView):
    """GET: the provider's answer. The library checks the state against the session and
    consumes it; the backend exchanges the code and verifies the ID token."""

    failure_reason = "state"

    def get(self, request):
        if not provider.enabled():
            return failure_page(request, "not_configured")
        if request.GET.get("error"):
            self.failure_reason = "denied"
        try:
            return super().get(request)
        except SignInFailed as error:
            return failure_page(request, error.reason, error.detail)
        except SuspiciousOperation:
            return failure_page(request, "state", "unknown state")

    def login_failure(self):
        return failure_page(self.request, self.failure_reason)


@require_POST
def sign_out(request):
    """End the portal session and, for a session from single sign-on where the provider offers
    it, the provider's too (RP-initiated logout). A local session signs out as before."""
    id_token = request.session.get("oidc_id_token")
    if not id_token or not provider.enabled():
        return auth_views.LogoutView.as_view()(request)
    end_session_url = ""
    try:
        end_session_url = provider.discover().end_session_endpoint
    except SignInFailed as error:
        logger.warning("single sign-on sign-out at the provider skipped: %s", error.reason)
    auth.logout(request)
    if not end_session_url:
        return redirect(settings.LOGOUT_REDIRECT_URL)
    query = urlencode(
        {
            "id_token_hint": id_token,
            "client_id": settings.OIDC_RP_CLIENT_ID,
            "post_logout_redirect_uri": request.build_absolute_uri(reverse("login")),
        }
    )
    separator = "&" if "?" in end_session_url else "?"
    return redirect(f"{end_session_url}{separator}{query}")


urlpatterns = [
    path("sso/login/", SsoStartView.as_view(), name="sso-login"),
    path("sso/callback/", SsoCallbackView.as_view(), name="sso-callback"),
]
