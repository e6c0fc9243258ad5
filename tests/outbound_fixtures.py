"""Fixtures for tests of the outbound guard: nothing they do leaves this machine.

`loopback_only` makes every socket connection to an address off loopback fail before a packet
is sent (and records it), and every name lookup by the system's resolver fail (and records it),
so a broken guard still reaches nothing outside. `local_server` runs a raw HTTP server on
127.0.0.1 whose answer the test writes byte by byte, for the cases the sandbox cannot produce
(a server dripping bytes, a body without end, a redirect).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

PUBLIC_ADDRESS = "93.184.216.34"  # never reached: `loopback_only` blocks it

# The addresses a resolver stub answers with that the guard must refuse.
REFUSED_ADDRESSES = [
    pytest.param("169.254.169.254", id="cloud-metadata"),
    pytest.param("10.0.0.5", id="private"),
    pytest.param("192.168.1.10", id="private-192"),
    pytest.param("100.64.0.1", id="cgnat"),
    pytest.param("127.0.0.1", id="loopback"),
    pytest.param("fd00::1", id="ula"),
    pytest.param("fe80::1", id="link-local-v6"),
    pytest.param("::ffff:10.0.0.1", id="ipv4-mapped-private"),
    pytest.param("0.0.0.0", id="unspecified"),  # noqa: S104
    pytest.param("::", id="unspecified-v6"),
    pytest.param("224.0.0.1", id="multicast"),
    pytest.param("240.0.0.1", id="reserved"),
    pytest.param("2002:a00:5::1", id="6to4-of-private"),
]


@dataclass
class NetworkAttempts:
    connects: list[str] = field(default_factory=list)  # every address a socket connected to
    blocked: list[str] = field(default_factory=list)  # those off loopback, refused here
    lookups: list[str] = field(default_factory=list)  # names given to the system resolver


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture
def loopback_only(monkeypatch) -> NetworkAttempts:
    attempts = NetworkAttempts()
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(sock, address):
        host = address[0] if isinstance(address, tuple) else str(address)
        attempts.connects.append(host)
        if isinstance(address, tuple) and not _is_loopback(host):
            attempts.blocked.append(host)
            raise ConnectionRefusedError(111, f"blocked by the test: {host} is not loopback")
        return real_connect(sock, address)

    def getaddrinfo(host, *args, **kwargs):
        text = host.decode() if isinstance(host, bytes) else str(host)
        try:
            ipaddress.ip_address(text.split("%")[0])
        except ValueError:
            attempts.lookups.append(text)
            raise socket.gaierror(
                socket.EAI_NONAME, "name lookups are blocked by the test"
            ) from None
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return attempts


class ResolverStub:
    """Answers every name with the next list of `answers` (the last one repeats)."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        index = min(len(self.calls), len(self.answers)) - 1
        return self.answers[index]


@dataclass
class LocalServer:
    port: int
    requests: list[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def local_server():
    """Start a server on 127.0.0.1 that reads each request's head and calls
    `answer(connection, stop)`; `stop` is set when the test ends. Stopped within seconds."""
    started: list[tuple[socket.socket, threading.Event, threading.Thread]] = []

    def start(answer: Callable[[socket.socket, threading.Event], None]) -> LocalServer:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.settimeout(0.1)
        stop = threading.Event()
        server = LocalServer(port=listener.getsockname()[1], requests=[])

        def serve() -> None:
            while not stop.is_set():
                try:
                    connection, _ = listener.accept()
                except TimeoutError:
                    continue
                with connection:
                    connection.settimeout(5)
                    head = b""
                    while b"\r\n\r\n" not in head:
                        chunk = connection.recv(65536)
                        if not chunk:
                            break
                        head += chunk
                    server.requests.append(head)
                    with contextlib.suppress(OSError):  # the client may hang up first
                        answer(connection, stop)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        started.append((listener, stop, thread))
        return server

    yield start
    for listener, stop, thread in started:
        stop.set()
        thread.join(timeout=10)
        listener.close()


def drip(body_bytes: int = 10_000, every: float = 0.2) -> Callable:
    """An answer whose headers come at once and whose body comes one byte every `every`
    seconds: each read gets a byte before any per-read timeout, so only a deadline ends it."""

    def answer(connection: socket.socket, stop: threading.Event) -> None:
        connection.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {body_bytes}\r\n\r\n".encode()
        )
        for _ in range(body_bytes):
            if stop.wait(every):
                return
            connection.sendall(b" ")

    return answer


def respond(status: str, body: bytes, headers: dict[str, str] | None = None) -> Callable:
    def answer(connection: socket.socket, stop: threading.Event) -> None:
        lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    return answer


def elapsed(call: Callable[[], object]) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        call()
    except BaseException as exc:  # the test looks at what was raised
        return time.monotonic() - started, exc
    return time.monotonic() - started, None
