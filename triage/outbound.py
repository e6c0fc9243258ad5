"""The one way out of the building: the guard every outbound HTTP request of the portal uses.

The Kolega client, and later webhooks, chat channels and identity-provider discovery, reach
other machines only through a `GuardedTransport` and `exchange`. The rules come in as an
`OutboundPolicy`, a plain object the caller builds from settings: this module knows nothing of
Django, so the Kolega client can use it too.

What the guard allows:
- a base URL that is https (plain http only when the policy allows it), without user-info,
  query or fragment, on a host of the policy's allow-list when it has one;
- a connection only to addresses that are public: private, loopback, link-local, CGNAT, ULA,
  unspecified, multicast and other reserved ranges are refused, unless the operator allowed
  the range. The host is resolved once per connection, every address it resolves to is
  checked, and the socket connects to the checked address while the Host header, TLS SNI
  and the certificate check keep the name: a DNS answer that changes between check and
  connect (DNS rebinding) cannot move the connection;
- no redirects: clients are built with `follow_redirects=False`, and a request sent anyway
  to another URL is checked again by the transport;
- a deadline for each exchange, enforced on every socket read and write (a server dripping
  a byte at a time fails at the deadline, not at the next per-read timeout), and at most
  `max_response_bytes` of body, read streamed.
"""

from __future__ import annotations

import contextvars
import functools
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]

# The message a person sees when a name cannot be used, whatever the reason: telling "not
# found" from "resolves to an internal address" from "refused" would map the network.
UNREACHABLE_MESSAGE = "Could not reach the address."

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

LOOPBACK_NETWORKS: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)


class OutboundRefused(Exception):
    """The guard refused a URL or an address; nothing was sent.

    `message` is safe to show to the person who typed the URL; `detail` says why, for logs.
    """

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(detail or message)
        self.message = message
        self.detail = detail or message


class OutboundResponseTooLarge(Exception):
    """The answer's body is larger than the policy's `max_response_bytes`."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the answer is larger than {limit} bytes")
        self.limit = limit


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, by the system's resolver."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def parse_networks(values: Sequence[str]) -> tuple[IPNetwork, ...]:
    """Networks from text such as "10.20.0.0/16" or "fd12::/64"; a bare address is a /32 or /128."""
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values if value)


def address_refusal(address: IPAddress, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """Why a connection to `address` is refused, or None when it is allowed."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in allowed):
        return None
    embedded = _embedded_ipv4(address)
    if embedded is not None and not any(embedded in network for network in allowed):
        reason = _kind_of_address(embedded)
        if reason:
            return f"{reason} address embedded in {address}"
    reason = _kind_of_address(address)
    return f"{reason} address" if reason else None


def _kind_of_address(address: IPAddress) -> str | None:
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address in _CGNAT:
        return "shared (CGNAT)"
    if address.is_private:
        return "private"
    if address.is_reserved or not address.is_global:
        return "reserved"
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 transition address leads to (6to4, Teredo, NAT64)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


@dataclass(frozen=True)
class OutboundPolicy:
    """What outbound requests may do. The defaults are the strict ones.

    `allowed_networks` are ranges the operator lets through although they are not public
    (a self-hosted service on the internal network; loopback for a local sandbox).
    `allowed_hosts` limits the hosts a base URL may name (None: any host); an entry starting
    with a dot also allows the subdomains, and "*" allows every host.
    """

    allow_http: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()
    allowed_hosts: tuple[str, ...] | None = None
    max_response_bytes: int = 16 * 1024 * 1024
    deadline_seconds: float = 60.0
    resolver: Resolver = system_resolver

    # URLs

    def check_base_url(self, url: str) -> str:
        """`url` if it may be used as the root of an API; raise `OutboundRefused` otherwise."""
        if "?" in url:
            raise OutboundRefused(
                "The address must not contain a query (“?…”): give the root of the API only."
            )
        return self.check_target_url(url)

    def check_target_url(self, url: str) -> str:
        """`url` if a request may be sent to it (a webhook's address, which may have a query);
        raise `OutboundRefused` otherwise."""
        if "#" in url:
            raise OutboundRefused("The address must not contain a fragment (“#…”).")
        if any(character.isspace() or ord(character) < 32 for character in url):
            raise OutboundRefused("The address must not contain spaces or control characters.")
        if "\\" in url:
            raise OutboundRefused("The address must not contain a backslash.")
        self.check_url(url)
        return url

    def check_url(self, url: str | httpx.URL) -> None:
        """Raise `OutboundRefused` unless a request to `url` is allowed before any address is
        looked at: its scheme, the absence of credentials, its host on the allow-list, and a
        literal address in an allowed range."""
        parts = urlsplit(str(url))
        scheme = parts.scheme.lower()
        if scheme != "https" and not (scheme == "http" and self.allow_http):
            schemes = "http:// or https://" if self.allow_http else "https://"
            raise OutboundRefused(f"The address must start with {schemes}.")
        if "@" in parts.netloc:
            raise OutboundRefused("The address must not contain a user name or password.")
        try:
            host = (parts.hostname or "").rstrip(".")
            parts.port  # noqa: B018  (raises on a port that is not a number in range)
        except ValueError:
            raise OutboundRefused("The address has a port that is not a number.") from None
        if not host:
            raise OutboundRefused("The address has no host name.")
        if not self.host_allowed(host):
            allowed = ", ".join(self.allowed_hosts or ()) or "none"
            raise OutboundRefused(
                f"The portal may connect only to these hosts: {allowed}.",
                detail=f"{host} is not on the allow-list",
            )
        literal = _literal_address(host)
        if literal is not None:
            reason = address_refusal(literal, self.allowed_networks)
            if reason:
                raise OutboundRefused(
                    "The portal does not connect to private, internal or reserved addresses.",
                    detail=f"{literal} is a {reason}",
                )

    def host_allowed(self, host: str) -> bool:
        if self.allowed_hosts is None:
            return True
        host = host.lower().rstrip(".")
        for pattern in self.allowed_hosts:
            pattern = pattern.lower().rstrip(".")
            if pattern == "*" or host == pattern.strip("[]") or host == pattern:
                return True
            if pattern.startswith(".") and (host.endswith(pattern) or host == pattern[1:]):
                return True
        return False

    # Addresses

    def addresses_for(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for `host`, every one of them checked.

        Refuses the host when any address it resolves to is refused: a name that answers
        with a public and an internal address is not a public name.
        """
        literal = _literal_address(host)
        if literal is not None:
            answers = [str(literal)]
        else:
            try:
                answers = list(self.resolver(host, port))
            except (OSError, UnicodeError) as exc:
                raise httpcore.ConnectError(f"could not resolve {host}: {exc}") from exc
            if not answers:
                raise httpcore.ConnectError(f"{host} resolves to no address")
        for answer in answers:
            address = _literal_address(answer)
            reason = "not an address" if address is None else None
            if address is not None:
                reason = address_refusal(address, self.allowed_networks)
            if reason:
                raise OutboundRefused(
                    UNREACHABLE_MESSAGE, detail=f"{host} resolves to {answer}, a {reason}"
                )
        return answers


# Deadlines


_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "outbound_deadline", default=None
)


@contextmanager
def deadline(seconds: float) -> Iterator[float]:
    """Every socket operation of outbound requests made inside the block ends by
    `seconds` from now (or by an earlier deadline already set). Answers the deadline, a
    `time.monotonic()` value."""
    at = time.monotonic() + seconds
    current = _deadline.get()
    if current is not None:
        at = min(at, current)
    token = _deadline.set(at)
    try:
        yield at
    finally:
        _deadline.reset(token)


def _within_deadline(timeout: float | None, timeout_error: type[Exception]) -> float | None:
    at = _deadline.get()
    if at is None:
        return timeout
    remaining = at - time.monotonic()
    if remaining <= 0:
        raise timeout_error("the deadline of the request passed")
    return remaining if timeout is None else min(timeout, remaining)


def deadline_passed() -> bool:
    at = _deadline.get()
    return at is not None and time.monotonic() >= at


# The transport


class _DeadlineStream(httpcore.NetworkStream):
    """A socket whose every read and write ends by the current deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _within_deadline(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _within_deadline(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _within_deadline(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Opens connections only to checked addresses of the requested host.

    httpcore hands us the URL's host; we resolve and check it here and connect the socket to
    the checked address. TLS is started later by httpcore with the host name, so SNI and the
    certificate check are those of the name, and the Host header was never touched.
    """

    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        addresses = self._policy.addresses_for(host, port)
        failure: Exception | None = None
        for address in addresses:
            try:
                stream = self._inner.connect_tcp(
                    address,
                    port,
                    _within_deadline(timeout, httpcore.ConnectTimeout),
                    local_address,
                    socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            return _DeadlineStream(stream)
        assert failure is not None
        raise failure

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options=None):
        raise OutboundRefused(UNREACHABLE_MESSAGE, detail="unix sockets are not allowed")


@functools.cache
def _ssl_context(verify: bool) -> ssl.SSLContext:
    """One context per process: loading the CA bundle takes some 50 ms of CPU, which every
    notification sent (a client each) would pay again; a context is safe to share between
    threads and pools."""
    return httpx.create_ssl_context(verify=verify, trust_env=False)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with the guard's network backend: checked, pinned connections.

    Environment proxies are never used (they would connect somewhere the guard did not
    check), and each request's URL is checked again, so a redirect followed by a careless
    caller still meets the rules.
    """

    def __init__(
        self,
        policy: OutboundPolicy,
        *,
        verify: bool = True,
        limits: httpx.Limits | None = None,
    ) -> None:
        # httpx builds its connection pool without a way to pass a network backend: the same
        # pool is built here, with the pinning backend (httpx 0.28's HTTPTransport only ever
        # reads `self._pool`).
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        self.policy = policy
        self._pool = httpcore.ConnectionPool(
            ssl_context=_ssl_context(verify),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_PinnedBackend(policy),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.policy.check_url(request.url)
        with deadline(self.policy.deadline_seconds):
            return super().handle_request(request)


def guarded_client(policy: OutboundPolicy, **kwargs: Any) -> httpx.Client:
    """An httpx client for outbound requests under `policy`: pinned, no redirects, no proxies
    from the environment. Send with `exchange` to get the deadline and the byte cap."""
    return httpx.Client(
        transport=GuardedTransport(policy),
        follow_redirects=False,
        trust_env=False,
        **kwargs,
    )


_HEADERS_OF_THE_WIRE = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def exchange(
    client: httpx.Client, request: httpx.Request, *, policy: OutboundPolicy
) -> httpx.Response:
    """Send `request` and read its answer within the policy's deadline and byte cap.

    Answers a response whose body is already read (decoded); raises `OutboundResponseTooLarge`
    past the cap and `httpx.TimeoutException` past the deadline, whatever the transport.
    """
    limit = policy.max_response_bytes
    with deadline(policy.deadline_seconds):
        response = client.send(request, stream=True)
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise OutboundResponseTooLarge(limit)
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limit:
                    raise OutboundResponseTooLarge(limit)
                if deadline_passed():
                    raise httpx.ReadTimeout("the deadline of the request passed", request=request)
        finally:
            response.close()
    headers = [
        (name, value)
        for name, value in response.headers.multi_items()
        if name.lower() not in _HEADERS_OF_THE_WIRE
    ]
    return httpx.Response(
        response.status_code, headers=headers, content=bytes(body), request=request
    )


class OutboundFailed(Exception):
    """A request that the guard allowed could not be made or answered: unreachable, too slow,
    too large. The message names the kind of failure and the URL, never a body."""


def send(policy: OutboundPolicy, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request under `policy` with a client of its own, for callers that make a few:
    `OutboundRefused` before anything is sent, `OutboundFailed` when it fails on the way."""
    policy.check_url(url)
    try:
        with guarded_client(policy) as client:
            return exchange(client, client.build_request(method, url, **kwargs), policy=policy)
    except (httpx.HTTPError, OutboundResponseTooLarge) as error:
        raise OutboundFailed(f"{type(error).__name__} at {url}") from None


class OutboundNoAnswer(Exception):
    """A request under the guard was sent or attempted and got no usable answer.

    `message` is safe to show to the person who set up the address; `detail` is for logs.
    """

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(detail or message)
        self.message = message
        self.detail = detail or message


@dataclass(frozen=True)
class Answer:
    """What a receiver answered: the status, the headers and the body (capped)."""

    status_code: int
    headers: dict[str, str]
    body: bytes


def post(
    url: str,
    *,
    content: bytes,
    headers: dict[str, str],
    policy: OutboundPolicy,
    transport: httpx.BaseTransport | None = None,
) -> Answer:
    """POST `content` to `url` under `policy`: checked URL and addresses, no redirects
    followed, the policy's deadline and byte cap. Raises `OutboundRefused` before sending
    when the URL or its addresses are not allowed, `OutboundNoAnswer` when no answer came."""
    policy.check_target_url(url)
    client = httpx.Client(
        transport=transport or GuardedTransport(policy),
        follow_redirects=False,
        trust_env=False,
        timeout=min(policy.deadline_seconds, 10.0),
    )
    try:
        with client:
            request = client.build_request("POST", url, content=content, headers=headers)
            response = exchange(client, request, policy=policy)
    except OutboundRefused:
        raise
    except OutboundResponseTooLarge as exc:
        raise OutboundNoAnswer(
            f"The receiver's answer was larger than {exc.limit:,} bytes.", detail=str(exc)
        ) from exc
    except httpx.TimeoutException as exc:
        raise OutboundNoAnswer("The receiver did not answer in time.", detail=repr(exc)) from exc
    except (httpx.HTTPError, httpcore.ConnectError, OSError) as exc:
        raise OutboundNoAnswer(UNREACHABLE_MESSAGE, detail=repr(exc)) from exc
    return Answer(
        status_code=response.status_code,
        headers={name.lower(): value for name, value in response.headers.items()},
        body=response.content,
    )
