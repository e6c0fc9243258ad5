"""Rendering of sandbox rows as the contract's response bodies, field for field."""

from datetime import UTC, datetime
from typing import Any

from sandbox.api import Caller
from sandbox.services.quotas import Counter


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def me_body(caller: Caller) -> dict[str, Any]:
    organization, key = caller.organization, caller.api_key
    return {
        "organization_id": str(organization.id),
        "organization_name": organization.name,
        "organization_slug": organization.slug,
        "api_key": {
            "id": str(key.id),
            "name": key.name,
            "key_prefix": key.key_prefix,
            "scopes": list(key.scopes),
        },
    }


def _counter_body(counter: Counter) -> dict[str, int]:
    return {
        "plan": counter.plan,
        "topup": counter.topup,
        "used": counter.used,
        "remaining": counter.remaining,
    }


def quota_balance_body(balance: dict[str, Any]) -> dict[str, Any]:
    return {
        "period_start": iso(balance["period_start"]),
        "period_end": iso(balance["period_end"]),
        "prs": _counter_body(balance["prs"]),
        "sast_scans": _counter_body(balance["sast_scans"]),
        "deep_ai_scans": _counter_body(balance["deep_ai_scans"]),
        "repositories": dict(balance["repositories"]),
    }
