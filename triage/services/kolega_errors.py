"""Turning a Kolega failure into a sentence a person can act on."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.utils import timezone

from triage.clients import kolega_client_for
from triage.kolega import (
    KolegaAddressRefused,
    KolegaAuthError,
    KolegaClient,
    KolegaConflict,
    KolegaError,
    KolegaMalformedResponse,
    KolegaNotFound,
    KolegaQuotaExceeded,
    KolegaTooLarge,
    KolegaUnavailable,
    KolegaValidationError,
)
from triage.models import KolegaConnection
from triage.outbound import UNREACHABLE_MESSAGE
from triage.services.errors import ServiceError
from triage.sync.quota import QUOTA_LABELS

# What a key check tells the admin who typed the address: one sentence per family of failure,
# never the network's own words ("connection refused", "host not found", "timed out") nor the
# server's text, which would let the form map the network the portal runs in. The detail goes
# to the server's log.
KEY_REJECTED = "Kolega rejected this key."
NOT_KOLEGA = "This address does not answer as the Kolega API."


def describe_key_check_failure(exc: KolegaError) -> tuple[str, str]:
    """The message of a failed key check and the form field it belongs to."""
    if isinstance(exc, KolegaAuthError) and exc.error_code:
        return KEY_REJECTED, "api_key"
    # A 401 or 403 without Kolega's error envelope (a login page, a proxy asking for its own
    # credentials) comes from something else at that address: the key was never judged.
    if isinstance(exc, KolegaAddressRefused):
        return exc.message, "base_url"  # the guard's words are about the URL typed, or generic
    if isinstance(exc, KolegaUnavailable) and exc.status_code is None:
        return f"{UNREACHABLE_MESSAGE} Check it, or try again later.", "base_url"
    return f"{NOT_KOLEGA} Check it, or try again later.", "base_url"


def describe_kolega_error(exc: KolegaError) -> str:
    """A message safe to show (the client never puts the key in an error) and specific."""
    if isinstance(exc, KolegaQuotaExceeded):
        label = QUOTA_LABELS.get(exc.quota_type, exc.quota_type)
        when = ""
        if exc.period_end:
            when = f" The period ends {timezone.localtime(exc.period_end):%Y-%m-%d %H:%M %Z}."
        return f"Kolega refused: the quota of {label} is used up.{when}"
    if isinstance(exc, KolegaAuthError):
        if exc.status_code == 403:
            return "Kolega refused: this connection's key is not allowed to do that."
        return "Kolega rejected this connection's key. An admin must replace it in Settings."
    if isinstance(exc, KolegaNotFound):
        return "Kolega no longer knows this object; the next sync will update the portal."
    if isinstance(exc, KolegaValidationError):
        return f"Kolega refused the request as invalid: {exc.message}"
    if isinstance(exc, KolegaConflict):
        return f"Kolega refused: {exc.message}"
    if isinstance(exc, KolegaUnavailable):
        if exc.status_code is not None:
            # Kolega answered, with a server error or a rate limit: it is up but not serving.
            # The reason is the status ("HTTP 503 from Kolega"), never the answer's text.
            return f"Kolega is unavailable ({exc.reason}). Nothing was changed; try again later."
        # Not reached at all: whether refused, not found or late stays in the log.
        return "Kolega is unreachable. Nothing was changed; try again later."
    if isinstance(exc, KolegaAddressRefused):
        return "Kolega is unreachable: the portal may not connect to this connection's address."
    if isinstance(exc, KolegaTooLarge):
        return "Kolega's answer was larger than the portal reads. Nothing was changed."
    if isinstance(exc, KolegaMalformedResponse):
        return "Kolega answered with something the portal cannot read. Nothing was changed."
    return f"Kolega refused: {exc.message}"


@contextmanager
def kolega_interactive(connection: KolegaConnection) -> Iterator[KolegaClient]:
    """A client for calls a person waits for; a Kolega failure becomes the `ServiceError`
    that says why, and nothing local has changed by then."""
    try:
        with kolega_client_for(connection, interactive=True) as client:
            yield client
    except KolegaError as exc:
        raise ServiceError(describe_kolega_error(exc)) from None
