"""Transport wrappers around the sandbox for what a WSGI app cannot do by itself.

They never invent a response: each either forwards to the real transport, or fails the way a
network does (refused connection, an answer lost after the server acted on the request).
"""

from collections.abc import Callable

import httpx


class RecordingTransport(httpx.BaseTransport):
    """Forwards every request and keeps it with its response status."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []
        self.statuses: list[int] = []
        self.after_response: Callable[[httpx.Request, httpx.Response], None] | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.inner.handle_request(request)
        self.statuses.append(response.status_code)
        if self.after_response is not None:
            self.after_response(request, response)
        return response


class RefusingTransport(httpx.BaseTransport):
    """Refuses the first `refusals` connections, then forwards to `inner`."""

    def __init__(self, inner: httpx.BaseTransport | None = None, *, refusals: int) -> None:
        self.inner = inner
        self.refusals = refusals
        self.attempts = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        if self.attempts <= self.refusals or self.inner is None:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return self.inner.handle_request(request)


class AnswerLosingTransport(httpx.BaseTransport):
    """Times out the first `losses` matching requests as a read timeout would.

    With `reaches_server` the server acts on the request and only its answer is lost;
    without it the request is lost on the way. Either way the client sees the same timeout.
    """

    def __init__(
        self,
        inner: httpx.BaseTransport,
        *,
        losses: int = 1,
        reaches_server: bool = True,
        matches: Callable[[httpx.Request], bool] = lambda request: request.method == "POST",
    ) -> None:
        self.inner = inner
        self.losses = losses
        self.reaches_server = reaches_server
        self.matches = matches
        self.lost: list[httpx.Request] = []
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        losing = self.matches(request) and len(self.lost) < self.losses
        if losing and not self.reaches_server:
            self.lost.append(request)
            raise httpx.ReadTimeout("timed out", request=request)
        response = self.inner.handle_request(request)
        if losing:
            response.read()
            self.lost.append(request)
            raise httpx.ReadTimeout("timed out", request=request)
        return response
