"""The authentication backend of single sign-on: mozilla-django-oidc's, with the provider's
endpoints discovered, its requests made through the outbound guard, the ID token's issuer and
audience verified as well as its signature, expiry and nonce, and the user taken from
`services.sso`, which creates them just in time and sets their memberships from the groups."""

from __future__ import annotations

import contextlib
import logging

import jwt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import SuspiciousOperation
from django.urls import reverse
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from triage.oidc import provider
from triage.services import sso
from triage.services.sso import SignInFailed

logger = logging.getLogger(__name__)

# Clock skew allowed when checking the ID token's times.
LEEWAY_SECONDS = 60


class SsoBackend(OIDCAuthenticationBackend):
    def __init__(self, *args, **kwargs):
        # The library's constructor requires the endpoints in settings; here they are
        # discovered when someone signs in, so loading the backend to read a session is free.
        self.UserModel = get_user_model()
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None
        self.metadata: provider.ProviderMetadata | None = None

    def authenticate(self, request, nonce=None, code_verifier=None, **kwargs):
        """Sign in from the provider's callback; None for every other kind of sign-in."""
        if request is None or nonce is None or kwargs:
            return None
        self.request = request
        code = request.GET.get("code")
        if not code:
            raise SignInFailed("provider_refused", "the callback has no code")
        self.metadata = provider.discover()
        # RFC 9207: a provider that names itself in its answer must be the one asked.
        answered_by = request.GET.get("iss")
        if answered_by is not None and answered_by != self.metadata.issuer:
            raise SignInFailed("wrong_issuer", "the answer names another issuer")
        self.OIDC_OP_TOKEN_ENDPOINT = self.metadata.token_endpoint
        self.OIDC_OP_JWKS_ENDPOINT = self.metadata.jwks_uri
        self.OIDC_OP_USER_ENDPOINT = self.metadata.userinfo_endpoint
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        token_info = self.get_token(
            {
                "client_id": self.OIDC_RP_CLIENT_ID,
                "client_secret": self.OIDC_RP_CLIENT_SECRET,
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": request.build_absolute_uri(reverse("sso-callback")),
                "code_verifier": code_verifier,
            }
        )
        id_token = token_info.get("id_token")
        access_token = token_info.get("access_token")
        if not isinstance(id_token, str) or not isinstance(access_token, str):
            raise SignInFailed("provider_misconfigured", "the token answer lacks a token")
        try:
            payload = self.verify_token(id_token, nonce=nonce)
        except SuspiciousOperation as error:
            raise SignInFailed("invalid_token", str(error)) from None
        claims = self.get_userinfo(access_token, id_token, payload)
        if claims.get("sub") != payload.get("sub"):
            raise SignInFailed("invalid_token", "the user info is of another subject")
        merged = {**payload, **claims}
        user = sso.sign_in(
            issuer=self.metadata.issuer,
            claims=merged,
            groups_claim=settings.PORTAL_OIDC_GROUPS_CLAIM,
        )
        self.store_tokens(access_token, id_token)
        return user

    # The library's finds a deactivated user too; Django's ends their session.
    get_user = ModelBackend.get_user

    # Requests to the provider, through the outbound guard.

    def get_token(self, payload):
        response = provider.request("POST", self.OIDC_OP_TOKEN_ENDPOINT, data=payload)
        if response.status_code != 200:
            # The provider's error code says what went wrong (invalid_grant: a code used
            # already, expired, or issued to another client); the body is not logged whole.
            error = ""
            with contextlib.suppress(ValueError, AttributeError):
                error = str(response.json().get("error", ""))[:64]
            raise SignInFailed(
                "provider_refused", f"token endpoint HTTP {response.status_code} {error}"
            )
        return provider.json_of(response, "the token answer")

    def retrieve_matching_jwk(self, token):
        response = provider.request("GET", self.OIDC_OP_JWKS_ENDPOINT)
        if response.status_code != 200:
            raise SignInFailed("provider_unavailable", f"keys answered HTTP {response.status_code}")
        jwks = provider.json_of(response, "the key set")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise SignInFailed("invalid_token", "the ID token is not a JWT") from None
        for jwk in jwks.get("keys") or []:
            if not isinstance(jwk, dict) or jwk.get("kid") != header.get("kid"):
                continue
            if "alg" in jwk and jwk["alg"] != header.get("alg"):
                continue
            try:
                return jwt.PyJWK(jwk)
            except jwt.PyJWTError:
                break
        raise SignInFailed("invalid_token", "no key of the provider matches the ID token")

    def get_userinfo(self, access_token, id_token, payload):
        response = provider.request(
            "GET",
            self.OIDC_OP_USER_ENDPOINT,
            headers={"Authorization": f"Bearer {access_token}"},
        )
        if response.status_code != 200:
            raise SignInFailed(
                "provider_refused", f"user info answered HTTP {response.status_code}"
            )
        return provider.json_of(response, "the user info")

    def _verify_jws(self, payload, key):
        """Signature and expiry, as the library checks them, and the issuer and audience, which
        it leaves to the application."""
        try:
            header = jwt.get_unverified_header(payload)
        except jwt.PyJWTError:
            raise SuspiciousOperation("the ID token is not a JWT") from None
        if header.get("alg") != self.OIDC_RP_SIGN_ALGO:
            raise SuspiciousOperation("the ID token is signed with another algorithm")
        try:
            return jwt.decode(
                payload,
                key,
                algorithms=[self.OIDC_RP_SIGN_ALGO],
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=self.metadata.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["iss", "aud", "exp", "iat", "sub"]},
            )
        except jwt.InvalidAudienceError:
            raise SuspiciousOperation("the ID token is for another client") from None
        except jwt.InvalidIssuerError:
            raise SuspiciousOperation("the ID token is from another issuer") from None
        except jwt.ExpiredSignatureError:
            raise SuspiciousOperation("the ID token has expired") from None
        except jwt.PyJWTError as error:
            raise SuspiciousOperation(f"the ID token is invalid ({type(error).__name__})") from None
