"""One exception family per way a Kolega call can fail.

Callers branch on the class, never on message text: auth problems stop a connection's syncs,
quota problems are shown to the user, `KolegaUnavailable` is transient and retried later.
Messages are built from the server's error envelope and scrubbed of the API key, so they are
safe to log and to show.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


class KolegaError(Exception):
    """Base of every error raised by the Kolega client."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        error_code: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.error_code = error_code
        self.method = method
        self.path = path

    def __str__(self) -> str:
        where = f" ({self.method} {self.path})" if self.method and self.path else ""
        status = f"HTTP {self.status_code}: " if self.status_code else ""
        return f"{status}{self.message}{where}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, status_code={self.status_code!r}, "
            f"error_code={self.error_code!r})"
        )


class KolegaAuthError(KolegaError):
    """The key is missing, unknown or revoked (401), or lacks access to the resource (403)."""


class KolegaQuotaExceeded(KolegaError):
    """A quota counter of the organization is exhausted (403 with `quota_type`)."""

    def __init__(
        self,
        message: str,
        *,
        quota_type: str,
        period_end: datetime | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.quota_type = quota_type
        self.period_end = period_end


class KolegaNotFound(KolegaError):
    """The resource does not exist, or belongs to another organization (404)."""


class KolegaValidationError(KolegaError):
    """The request was rejected as invalid (422); `details` holds the server's field errors."""

    def __init__(self, message: str, *, details: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.details = details


class KolegaConflict(KolegaError):
    """The resource is not in a state that allows the operation (409, or 400 for illegal state)."""


class KolegaUnavailable(KolegaError):
    """Kolega could not be reached or answered with a server error; worth retrying later.

    `reason` is a short human readable cause ("connection refused", "timed out after 10s").
    `outcome_unknown` is true when a non-idempotent request may or may not have taken effect:
    the caller must look before trying again.
    """

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        outcome_unknown: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.reason = reason
        self.outcome_unknown = outcome_unknown


class KolegaRateLimited(KolegaUnavailable):
    """Still rate limited (429) after the retries allowed in-process, or asked to wait longer
    than the client is willing to block; `retry_after` is the server's wait in seconds."""

    def __init__(self, message: str, *, retry_after: float | None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class KolegaMalformedResponse(KolegaError):
    """The response was not JSON, or was JSON that breaks the published contract."""


class KolegaAddressRefused(KolegaError):
    """The outbound guard refused the base URL or the address it resolves to; nothing was
    sent. `message` is safe to show; `detail` (for logs only) says which rule refused it."""

    def __init__(self, message: str, *, detail: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.detail = detail or message


class KolegaTooLarge(KolegaError):
    """An answer was larger than the portal reads (its body past the byte cap, or a listing
    past the page cap): the server is not serving what the contract describes."""


__all__ = [
    "KolegaAddressRefused",
    "KolegaAuthError",
    "KolegaConflict",
    "KolegaError",
    "KolegaMalformedResponse",
    "KolegaNotFound",
    "KolegaQuotaExceeded",
    "KolegaRateLimited",
    "KolegaTooLarge",
    "KolegaUnavailable",
    "KolegaValidationError",
]
