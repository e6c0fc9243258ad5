"""Every documented exception to the URL security sweep, in one place, each with its reason.

Keys are URL ids as the sweep names them: ``namespace:name`` for named patterns, the route for
unnamed ones; a key ending in ``*`` covers every URL id starting with what comes before it.
"""

# Reachable without a portal session.
PUBLIC = {
    "login": "The sign-in page itself: it must answer people who are not signed in yet.",
    "logout": "Signing out must work for a session that has just expired (Django's LogoutView "
    "ends whatever session there is, and answers anonymous requests the same way).",
    "sso-login": "Starts single sign-on for someone not signed in yet: it only sends the browser "
    "to the configured identity provider (404 page when none is set up); `next` is kept only "
    "when it stays on the portal (tests/oidc).",
    "sso-callback": "Where the identity provider sends the browser back, before anyone is "
    "signed in: it signs in only with the state, nonce and PKCE verifier of a sign-in this "
    "session started, and answers everything else with a failure page (tests/oidc).",
    "password_reset": "Asking for a password reset link is for people who cannot sign in; "
    "it answers the same whether an account has the address or not (tests/triage/"
    "test_password_reset.py).",
    "password_reset_done": "Says a link may be on its way; shows nothing of any account.",
    "password_reset_confirm": "Opened from the emailed link by someone not signed in: it sets a "
    "password only with a valid, unused token of that user (Django's PasswordResetConfirmView).",
    "password_reset_complete": "Says the new password is set; shows nothing of any account.",
    "healthz": "Load balancers and the container runtime probe it without credentials; it "
    "reveals only whether the database and Redis answer.",
    "admin:login": "Django admin's own sign-in page (staff only behind it, with the same "
    "lockout as the portal's sign-in).",
    "admin:logout": "Signing out of the admin ends whatever session there is and sends the "
    "browser back to the admin's sign-in, like the portal's own sign-out.",
    "sandbox:*": "The sandbox emulates the Kolega API: it authenticates every request with an "
    "organization's API key (Authorization: Bearer), never with a portal session, and is "
    "mounted only when SANDBOX_ENABLED (never in production).",
}

# Accept POST without a CSRF token.
CSRF_EXEMPT = {
    "sandbox:*": "An API called by machines with a bearer API key, not by a browser with "
    "cookies: CSRF cannot apply (as for the real Kolega API it emulates).",
}

# Write URLs a page may offer to a role below the URL's write role.
WRITE_FORMS_SHOWN_BELOW_ROLE: dict[str, str] = {}
