"""Turning a Kolega failure into a sentence a person can act on."""

from django.utils import timezone

from triage.kolega import (
    KolegaAuthError,
    KolegaConflict,
    KolegaError,
    KolegaMalformedResponse,
    KolegaNotFound,
    KolegaQuotaExceeded,
    KolegaUnavailable,
    KolegaValidationError,
)

QUOTA_LABELS = {
    "sast_scans": "SAST scans",
    "deep_ai_scans": "deep AI scans",
    "prs": "fixes and pull requests",
    "repositories": "repositories",
}


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
            return f"Kolega is unavailable ({exc.reason}). Nothing was changed; try again later."
        return f"Kolega is unreachable ({exc.reason}). Nothing was changed; try again later."
    if isinstance(exc, KolegaMalformedResponse):
        return "Kolega answered with something the portal cannot read. Nothing was changed."
    return f"Kolega refused: {exc.message}"
