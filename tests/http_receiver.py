"""A real HTTP receiver for notification tests: a threaded `http.server` on 127.0.0.1.

`http_receiver` starts one per test; it records every request (method, path, headers, body)
and answers each with the next of `answers` (status, headers, body), the last one repeating,
so a test can make it fail with 500 or rate-limit with 429 and then accept.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    port: int
    requests: list[Received] = field(default_factory=list)
    answers: list[tuple[int, dict[str, str], bytes]] = field(
        default_factory=lambda: [(200, {}, b"ok")]
    )
    # Seconds to wait before answering the n-th request (from 0): a receiver that stalls.
    stalls: dict[int, float] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/portal"

    def answer(self, *answers: tuple[int, dict[str, str], bytes]) -> None:
        self.answers = list(answers)

    def wait_for(self, count: int, seconds: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + seconds
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.requests


@pytest.fixture
def http_receiver():
    state: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            receiver: Receiver = state["receiver"]
            length = int(self.headers.get("Content-Length", "0") or 0)
            body = self.rfile.read(length)
            with state["lock"]:
                receiver.requests.append(
                    Received(
                        "POST",
                        self.path,
                        {name.lower(): value for name, value in self.headers.items()},
                        body,
                    )
                )
                index = min(len(receiver.requests), len(receiver.answers)) - 1
                status, headers, answer = receiver.answers[index]
                stall = receiver.stalls.get(len(receiver.requests) - 1, 0)
            if stall:
                time.sleep(stall)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["lock"] = threading.Lock()
    state["receiver"] = Receiver(port=server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield state["receiver"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
