"""Building Kolega clients for connections.

Tests and the in-process sandbox route requests through an injected transport; everything else
goes over the network with the client's own transport.
"""

from contextlib import contextmanager

from triage.kolega import KolegaClient
from triage.models import KolegaConnection

_transport_override = None


def kolega_client(*, base_url: str, api_key: str) -> KolegaClient:
    return KolegaClient(base_url=base_url, api_key=api_key, transport=_transport_override)


def kolega_client_for(connection: KolegaConnection) -> KolegaClient:
    return kolega_client(base_url=connection.base_url, api_key=connection.api_key.reveal())


@contextmanager
def override_transport(transport):
    """Send every Kolega request made inside the block through ``transport``."""
    global _transport_override
    previous, _transport_override = _transport_override, transport
    try:
        yield
    finally:
        _transport_override = previous
