"""The identity provider as the portal reaches it: its discovery document and its endpoints,
each request made through the outbound guard (`triage/outbound.py`)."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, replace
from typing import Any

from django.conf import settings
from django.core.cache import cache

from triage.clients import outbound_policy
from triage.outbound import OutboundFailed, OutboundRefused, send
from triage.services.sso import SignInFailed

__all__ = ["ProviderMetadata", "SignInFailed", "discover", "enabled", "json_of", "request"]

logger = logging.getLogger(__name__)

# A person waits on every one of these requests.
DEADLINE_SECONDS = 10.0
MAX_RESPONSE_BYTES = 1024 * 1024


def enabled() -> bool:
    return bool(settings.PORTAL_OIDC_ISSUER and settings.OIDC_RP_CLIENT_ID)


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str
    end_session_endpoint: str


def _policy():
    policy = outbound_policy(deadline_seconds=DEADLINE_SECONDS)
    return replace(policy, max_response_bytes=min(policy.max_response_bytes, MAX_RESPONSE_BYTES))


def request(method: str, url: str, **kwargs: Any):
    """One request to the provider; raises `SignInFailed("provider_unavailable")` when it cannot
    be made or answered."""
    try:
        return send(_policy(), method, url, **kwargs)
    except OutboundRefused as error:
        raise SignInFailed("provider_unavailable", f"refused {url}: {error.detail}") from None
    except OutboundFailed as error:
        raise SignInFailed("provider_unavailable", str(error)) from None


def json_of(response, what: str) -> dict:
    try:
        document = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        document = None
    if not isinstance(document, dict):
        raise SignInFailed("provider_misconfigured", f"{what} is not a JSON object")
    return document


def discover() -> ProviderMetadata:
    """The provider's endpoints from `<issuer>/.well-known/openid-configuration`.

    The document must name the configured issuer exactly (OpenID Connect Discovery 1.0, 4.3),
    and every endpoint must be one the outbound rules allow. A document read is reused for
    ``PORTAL_OIDC_DISCOVERY_CACHE_SECONDS``, so people starting to sign in do not make the
    portal fetch it each time; a failure is not kept.
    """
    if not enabled():
        raise SignInFailed("not_configured")
    issuer = settings.PORTAL_OIDC_ISSUER
    key = "oidc-discovery:" + hashlib.sha256(issuer.encode()).hexdigest()
    cached = cache.get(key)
    if isinstance(cached, dict):
        return ProviderMetadata(**cached)
    metadata = _fetch_metadata(issuer)
    if settings.PORTAL_OIDC_DISCOVERY_CACHE_SECONDS > 0:
        cache.set(key, asdict(metadata), timeout=settings.PORTAL_OIDC_DISCOVERY_CACHE_SECONDS)
    return metadata


def _fetch_metadata(issuer: str) -> ProviderMetadata:
    response = request("GET", issuer.rstrip("/") + "/.well-known/openid-configuration")
    if response.status_code != 200:
        raise SignInFailed(
            "provider_unavailable", f"discovery answered HTTP {response.status_code}"
        )
    document = json_of(response, "the discovery document")
    if document.get("issuer") != issuer:
        raise SignInFailed("wrong_issuer", "the discovery document names another issuer")
    endpoints = {}
    policy = _policy()
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
        value = document.get(name)
        if not isinstance(value, str) or not value:
            raise SignInFailed("provider_misconfigured", f"the discovery document lacks {name}")
        endpoints[name] = value
    end_session = document.get("end_session_endpoint")
    endpoints["end_session_endpoint"] = end_session if isinstance(end_session, str) else ""
    for name, value in endpoints.items():
        if not value:
            continue
        try:
            policy.check_url(value)
        except OutboundRefused as error:
            raise SignInFailed("provider_misconfigured", f"{name}: {error.detail}") from None
    return ProviderMetadata(issuer=issuer, **endpoints)
