"""Fault injection at request time, per organization.

Each request of an organization draws the same fixed sequence of random numbers from
``Random(f"{seed}:{n}")`` where ``n`` counts that organization's requests, so the same seed
and the same request order give the same faults: a test run is repeatable.
"""

import random
import time
from dataclasses import dataclass

from django.db import transaction
from django.http import HttpResponse

from sandbox.models import FaultConfig, Organization

SERVER_ERROR_STATUSES = (500, 502, 503)


@dataclass(frozen=True)
class Injection:
    response: HttpResponse | None = None
    malformed_style: str | None = None

    def after_response(self, response: HttpResponse) -> HttpResponse:
        if self.malformed_style is None or not response.content:
            return response
        if self.malformed_style == "truncated":
            # A body cut off mid-stream, as when a proxy drops the connection.
            response.content = response.content[: max(1, len(response.content) // 2)]
        else:
            response.content = b"<html><body>upstream sent an invalid response</body></html>"
        return response


NO_FAULT = Injection()


def _is_active(config: FaultConfig) -> bool:
    return any(
        (
            config.latency_ms,
            config.jitter_ms,
            config.rate_429,
            config.rate_5xx,
            config.slow_ms and config.slow_rate,
            config.malformed_rate,
        )
    )


def _next_request_number(config: FaultConfig) -> int:
    with transaction.atomic():
        locked = FaultConfig.objects.select_for_update().get(pk=config.pk)
        locked.request_counter += 1
        locked.save(update_fields=["request_counter"])
        return locked.request_counter


def _server_error(status: int, retry_after: int) -> HttpResponse:
    if status == 502:
        return HttpResponse(
            "<html><head><title>502 Bad Gateway</title></head>"
            "<body><h1>502 Bad Gateway</h1></body></html>",
            status=502,
            content_type="text/html",
        )
    if status == 503:
        response = HttpResponse(
            '{"detail":"Service temporarily unavailable"}',
            status=503,
            content_type="application/json",
        )
        response["Retry-After"] = str(retry_after)
        return response
    return HttpResponse("Internal Server Error", status=500, content_type="text/plain")


def before_request(*, organization: Organization) -> Injection:
    config = FaultConfig.objects.filter(organization=organization).first()
    if config is None or not _is_active(config):
        return NO_FAULT
    rng = random.Random(f"{config.seed}:{_next_request_number(config)}")
    jitter, outcome_roll, status_roll, slow_roll, malformed_roll, style_roll = (
        rng.random() for _ in range(6)
    )
    delay_ms = config.latency_ms + jitter * config.jitter_ms
    if delay_ms:
        time.sleep(delay_ms / 1000)
    if outcome_roll < config.rate_429:
        response = HttpResponse(
            '{"detail":"Rate limit exceeded"}', status=429, content_type="application/json"
        )
        response["Retry-After"] = str(config.retry_after_seconds)
        return Injection(response=response)
    if outcome_roll < config.rate_429 + config.rate_5xx:
        status = SERVER_ERROR_STATUSES[int(status_roll * len(SERVER_ERROR_STATUSES))]
        return Injection(response=_server_error(status, config.retry_after_seconds))
    if config.slow_ms and slow_roll < config.slow_rate:
        time.sleep(config.slow_ms / 1000)
    if malformed_roll < config.malformed_rate:
        return Injection(malformed_style="truncated" if style_roll < 0.5 else "not_json")
    return NO_FAULT
