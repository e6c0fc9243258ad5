"""Setting and clearing an organization's injected faults."""

from sandbox.models import FaultConfig, Organization
from sandbox.services.organizations import api_key_revoke

FAULT_FIELDS = (
    "latency_ms",
    "jitter_ms",
    "rate_429",
    "retry_after_seconds",
    "rate_5xx",
    "slow_ms",
    "slow_rate",
    "malformed_rate",
    "seed",
)
RATE_FIELDS = ("rate_429", "rate_5xx", "slow_rate", "malformed_rate")


def fault_config_set(
    *, organization: Organization, revoke_key_prefix: str | None = None, **values: float | int
) -> FaultConfig:
    """Update the given fault settings (others keep their value); restart the sequence.

    Setting ``slow_ms`` without ``slow_rate`` makes every response slow.
    """
    unknown = set(values) - set(FAULT_FIELDS)
    if unknown:
        raise ValueError(f"unknown fault settings: {sorted(unknown)}")
    for name in RATE_FIELDS:
        if name in values and not 0 <= float(values[name]) <= 1:
            raise ValueError(f"{name} must be between 0 and 1")
    if values.get("slow_ms") and "slow_rate" not in values:
        values["slow_rate"] = 1.0
    config, _ = FaultConfig.objects.get_or_create(organization=organization)
    for name, value in values.items():
        setattr(config, name, value)
    config.request_counter = 0
    config.save()
    if revoke_key_prefix:
        api_key_revoke(organization=organization, key_prefix=revoke_key_prefix)
    return config


def fault_config_clear(*, organization: Organization) -> None:
    FaultConfig.objects.filter(organization=organization).delete()


def fault_config_describe(config: FaultConfig) -> dict[str, float | int]:
    return {name: getattr(config, name) for name in FAULT_FIELDS} | {
        "request_counter": config.request_counter
    }
