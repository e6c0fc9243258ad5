"""HTTP plumbing shared by every emulated operation.

Order of work per request mirrors upstream (a FastAPI service): route and method first
(404/405), then the API key (401), then this organization's injected faults, then the
key's scope (403), then the operation itself, whose validation errors answer 422.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from sandbox import faults
from sandbox.errors import ApiError, RequestValidationError, forbidden, unauthorized
from sandbox.models import ApiKey, Organization
from sandbox.services.organizations import api_key_authenticate


@dataclass(frozen=True)
class Caller:
    organization: Organization
    api_key: ApiKey


@dataclass(frozen=True)
class Operation:
    handler: Callable[..., tuple[int, Any]]
    scope: str


def json_response(
    body: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> HttpResponse:
    response = HttpResponse(
        json.dumps(body, separators=(",", ":")),
        status=status,
        content_type="application/json",
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _error_response(error: ApiError | RequestValidationError) -> HttpResponse:
    if isinstance(error, RequestValidationError):
        return json_response(error.body(), status=422)
    return json_response(error.body(), status=error.status, headers=error.headers)


def _authenticate(request: HttpRequest) -> Caller:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("Missing API key")
    key = api_key_authenticate(plaintext=token.strip())
    if key is None:
        raise unauthorized("Invalid API key")
    if key.revoked_at is not None:
        raise unauthorized("API key has been revoked")
    return Caller(organization=key.organization, api_key=key)


def route(**operations: Operation) -> Callable[..., HttpResponse]:
    """A view answering the given methods, e.g. ``route(GET=read(fn), PATCH=write(fn))``."""
    allowed = sorted(operations)
    if "GET" in operations:
        allowed.append("HEAD")

    def view(request: HttpRequest, **path: str) -> HttpResponse:
        method = "GET" if request.method == "HEAD" else request.method
        operation = operations.get(method or "")
        if operation is None:
            return json_response(
                {"detail": "Method Not Allowed"}, status=405, headers={"Allow": ", ".join(allowed)}
            )
        try:
            caller = _authenticate(request)
        except ApiError as error:
            return _error_response(error)
        injected = faults.before_request(organization=caller.organization)
        if injected.response is not None:
            return injected.response
        try:
            if operation.scope not in caller.api_key.scopes:
                raise forbidden(f"API key lacks the '{operation.scope}' scope")
            status, body = operation.handler(request, caller, **path)
            response = json_response(body, status=status)
        except (ApiError, RequestValidationError) as error:
            response = _error_response(error)
        if request.method == "HEAD":
            response.content = b""
        return injected.after_response(response)

    return csrf_exempt(login_not_required(view))


def read(handler: Callable[..., tuple[int, Any]]) -> Operation:
    return Operation(handler=handler, scope="read")


def write(handler: Callable[..., tuple[int, Any]]) -> Operation:
    return Operation(handler=handler, scope="write")


@csrf_exempt
@login_not_required
def unknown_path(request: HttpRequest, **_: str) -> HttpResponse:
    return json_response({"detail": "Not Found"}, status=404)
