"""Operator endpoints of the sandbox (not part of the Kolega API).

Guarded by the ``X-Sandbox-Admin-Token`` header, compared with ``SANDBOX_ADMIN_TOKEN``;
with no token configured they are switched off (404), so a deployment never exposes them
by accident.
"""

import hmac
import json
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from sandbox import clock, serializers
from sandbox.api import json_response
from sandbox.errors import ApiError
from sandbox.models import FaultConfig, Organization, PullRequest
from sandbox.services.faults import (
    FAULT_FIELDS,
    fault_config_clear,
    fault_config_describe,
    fault_config_set,
)
from sandbox.services.fixes import pull_request_close, pull_request_find, pull_request_merge

PR_URL = re.compile(r"^https://[^/]+/(?P<repo>[^/]+/[^/]+)/pull/(?P<number>\d+)$")


def _guarded(handler: Callable[[HttpRequest, dict[str, Any]], Any]) -> Callable:
    @csrf_exempt
    @login_not_required
    def view(request: HttpRequest) -> HttpResponse:
        expected = getattr(settings, "SANDBOX_ADMIN_TOKEN", "") or ""
        if not expected:
            return json_response({"detail": "Not Found"}, status=404)
        given = request.headers.get("X-Sandbox-Admin-Token", "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return json_response({"detail": "Invalid sandbox admin token"}, status=403)
        if request.method not in ("GET", "POST"):
            return json_response({"detail": "Method Not Allowed"}, status=405)
        try:
            payload = json.loads(request.body or b"{}") if request.method == "POST" else {}
            if not isinstance(payload, dict):
                raise ValueError("a JSON object is expected")
            return json_response(handler(request, payload))
        except ApiError as error:
            return json_response(error.body(), status=error.status)
        except (ValueError, TypeError) as error:
            return json_response({"detail": str(error)}, status=400)

    return view


def _organization(slug: str | None) -> Organization:
    organization = Organization.objects.filter(slug=slug or "").first()
    if organization is None:
        raise ApiError(status=404, message="Organization not found", error_code="NOT_FOUND")
    return organization


def _faults(request: HttpRequest, payload: dict[str, Any]) -> dict[str, Any]:
    organization = _organization(payload.get("organization") or request.GET.get("organization"))
    if request.method == "POST":
        if payload.get("clear"):
            fault_config_clear(organization=organization)
        values = {name: payload[name] for name in FAULT_FIELDS if name in payload}
        if values or payload.get("revoke_key_prefix"):
            fault_config_set(
                organization=organization,
                revoke_key_prefix=payload.get("revoke_key_prefix"),
                **values,
            )
    config = FaultConfig.objects.filter(organization=organization).first()
    return {
        "organization": organization.slug,
        "faults": fault_config_describe(config) if config else None,
    }


def _pull_request(payload: dict[str, Any]) -> PullRequest:
    repo, number = payload.get("repo_full_name"), payload.get("pr_number")
    match = PR_URL.match(str(payload.get("pr_url", "")))
    if match:
        repo, number = match["repo"], int(match["number"])
    if not repo or not number:
        raise ValueError("give pr_url, or repo_full_name and pr_number")
    organization = _organization(payload["organization"]) if payload.get("organization") else None
    return pull_request_find(repo_full_name=repo, pr_number=int(number), organization=organization)


def _merge(request: HttpRequest, payload: dict[str, Any]) -> dict[str, Any]:
    pull_request = pull_request_merge(pull_request=_pull_request(payload))
    return serializers.pull_request_body(pull_request)


def _close(request: HttpRequest, payload: dict[str, Any]) -> dict[str, Any]:
    pull_request = pull_request_close(pull_request=_pull_request(payload))
    return serializers.pull_request_body(pull_request)


def _clock(request: HttpRequest, payload: dict[str, Any]) -> dict[str, Any]:
    if request.method == "POST":
        if payload.get("reset"):
            clock.reset()
        if "advance_seconds" in payload:
            clock.advance(float(payload["advance_seconds"]))
    return {"now": serializers.iso(clock.now()), "offset_seconds": clock.offset_seconds()}


faults = _guarded(_faults)
merge_pull_request = _guarded(_merge)
close_pull_request = _guarded(_close)
clock_move = _guarded(_clock)
