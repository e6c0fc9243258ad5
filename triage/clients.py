"""Building Kolega clients for connections, and the outbound policy they go out under.

Tests and the in-process sandbox route requests through an injected transport; everything else
goes over the network through the outbound guard (`triage/outbound.py`), with the policy built
here from settings.
"""

from contextlib import contextmanager
from dataclasses import replace

from django.conf import settings

from triage.kolega import KolegaClient, RetryPolicy
from triage.models import KolegaConnection
from triage.outbound import OutboundPolicy, parse_networks, system_resolver

_transport_override = None
_resolver_override = None

# A person is waiting on an interactive call: answer within seconds rather than retry for long.
INTERACTIVE_TIMEOUT_SECONDS = 10.0
INTERACTIVE_DEADLINE_SECONDS = 15.0
INTERACTIVE_RETRY_POLICY = RetryPolicy(max_attempts=2, backoff_cap=1.0, retry_after_cap=2.0)


def outbound_policy(
    *, allowed_hosts: tuple[str, ...] | None = None, deadline_seconds: float | None = None
) -> OutboundPolicy:
    """The rules of every outbound request, from settings; `allowed_hosts` None: any host."""
    return OutboundPolicy(
        allow_http=settings.PORTAL_OUTBOUND_ALLOW_HTTP,
        allowed_networks=parse_networks(settings.PORTAL_OUTBOUND_ALLOWED_NETWORKS),
        allowed_hosts=allowed_hosts,
        max_response_bytes=settings.PORTAL_OUTBOUND_MAX_RESPONSE_BYTES,
        deadline_seconds=deadline_seconds or settings.PORTAL_OUTBOUND_DEADLINE_SECONDS,
        resolver=_resolver_override or system_resolver,
    )


def kolega_outbound_policy(*, interactive: bool = False) -> OutboundPolicy:
    """The outbound rules of Kolega connections: those of every request, plus the allow-list
    of Kolega hosts."""
    deadline = settings.PORTAL_OUTBOUND_DEADLINE_SECONDS
    if interactive:
        deadline = min(deadline, INTERACTIVE_DEADLINE_SECONDS)
    hosts = tuple(settings.PORTAL_KOLEGA_ALLOWED_HOSTS)
    return outbound_policy(allowed_hosts=None if "*" in hosts else hosts, deadline_seconds=deadline)


# Webhooks are answered with a few words: a receiver's answer is read up to this much.
WEBHOOK_MAX_RESPONSE_BYTES = 64 * 1024
WEBHOOK_DEADLINE_SECONDS = 10.0


def webhook_outbound_policy() -> OutboundPolicy:
    """The outbound rules of notification webhooks: those of every request (any host, public
    addresses only unless an operator allowed a range), a short deadline and a small cap."""
    policy = outbound_policy(
        deadline_seconds=min(settings.PORTAL_OUTBOUND_DEADLINE_SECONDS, WEBHOOK_DEADLINE_SECONDS)
    )
    return replace(
        policy,
        max_response_bytes=min(policy.max_response_bytes, WEBHOOK_MAX_RESPONSE_BYTES),
    )


def kolega_client(*, base_url: str, api_key: str, interactive: bool = False) -> KolegaClient:
    extra = {}
    if interactive:
        extra = {"timeout": INTERACTIVE_TIMEOUT_SECONDS, "retry_policy": INTERACTIVE_RETRY_POLICY}
    return KolegaClient(
        base_url=base_url,
        api_key=api_key,
        transport=_transport_override,
        outbound_policy=kolega_outbound_policy(interactive=interactive),
        **extra,
    )


def kolega_client_for(connection: KolegaConnection, *, interactive: bool = False) -> KolegaClient:
    return kolega_client(
        base_url=connection.base_url, api_key=connection.api_key.reveal(), interactive=interactive
    )


def transport_is_overridden() -> bool:
    """True while requests go through an injected transport (tests, an in-process sandbox)."""
    return _transport_override is not None


@contextmanager
def override_transport(transport):
    """Send every Kolega request made inside the block through ``transport``."""
    global _transport_override
    previous, _transport_override = _transport_override, transport
    try:
        yield
    finally:
        _transport_override = previous


@contextmanager
def override_resolver(resolver):
    """Resolve host names of outbound requests made inside the block with ``resolver``
    (host, port) -> addresses, instead of the system's resolver."""
    global _resolver_override
    previous, _resolver_override = _resolver_override, resolver
    try:
        yield
    finally:
        _resolver_override = previous
