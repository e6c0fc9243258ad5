"""Building Kolega clients for connections.

Tests and the in-process sandbox route requests through an injected transport; everything else
goes over the network with the client's own transport.
"""

from contextlib import contextmanager

from triage.kolega import KolegaClient, RetryPolicy
from triage.models import KolegaConnection

_transport_override = None

# A person is waiting on an interactive call: answer within seconds rather than retry for long.
INTERACTIVE_TIMEOUT_SECONDS = 10.0
INTERACTIVE_RETRY_POLICY = RetryPolicy(max_attempts=2, backoff_cap=1.0, retry_after_cap=2.0)


def kolega_client(*, base_url: str, api_key: str, interactive: bool = False) -> KolegaClient:
    extra = {}
    if interactive:
        extra = {"timeout": INTERACTIVE_TIMEOUT_SECONDS, "retry_policy": INTERACTIVE_RETRY_POLICY}
    return KolegaClient(base_url=base_url, api_key=api_key, transport=_transport_override, **extra)


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
