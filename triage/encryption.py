"""Encryption of secrets at rest (Kolega API keys) with MultiFernet.

Keys come from ``settings.PORTAL_ENCRYPTION_KEYS``, independent of ``SECRET_KEY``: the first key
encrypts, every key decrypts, so a new key can be put in front and old rows re-encrypted with
``manage.py rotate_encryption_keys`` before the old key is retired.
"""

from collections.abc import Callable
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


class DecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key."""


@lru_cache(maxsize=8)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "PORTAL_ENCRYPTION_KEYS must be comma-separated Fernet keys"
        ) from exc


def _fernet() -> MultiFernet:
    return _fernet_for(tuple(settings.PORTAL_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def _with_keys(operation: Callable[[MultiFernet, bytes], bytes], token: str) -> str:
    """Run a decrypting operation on a stored token; no configured key opens it: an error."""
    try:
        return operation(_fernet(), token.encode()).decode()
    except InvalidToken:
        raise DecryptionError(
            "stored secret cannot be decrypted with the configured keys"
        ) from None


def decrypt(token: str) -> str:
    return _with_keys(MultiFernet.decrypt, token)


def rotate(token: str) -> str:
    """Re-encrypt a token under the first (newest) key."""
    return _with_keys(MultiFernet.rotate, token)


class EncryptedSecret:
    """Plaintext wrapper that never shows its value in repr/str (logs, tracebacks, templates).

    A secret read from the database holds its token and is decrypted the first time it is
    revealed: a page that lists connections, or a finding with its connection, never
    decrypts a key it does not use, and a key that no configured key opens fails only the
    call to Kolega that needs it (`DecryptionError`), not every page that reads its row.
    """

    __slots__ = ("_token", "_value")

    def __init__(self, value: str | None = None, *, token: str | None = None):
        if (value is None) == (token is None):
            raise TypeError("an EncryptedSecret holds either a value or a stored token")
        self._value = value
        self._token = token

    def reveal(self) -> str:
        if self._value is None:
            self._value = decrypt(self._token)
        return self._value

    def stored_token(self) -> str | None:
        """The token it was read as, while it has not been revealed (saving it again stores
        that token unchanged)."""
        return self._token if self._value is None else None

    def __repr__(self) -> str:
        return "EncryptedSecret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EncryptedSecret) and other.reveal() == self.reveal()

    def __hash__(self) -> int:
        return hash(self.reveal())


class EncryptedSecretField(models.TextField):
    """A text column holding a Fernet token; Python side is an :class:`EncryptedSecret`."""

    description = "A secret encrypted with the portal's Fernet keys"

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return EncryptedSecret(token=value)

    def to_python(self, value):
        if value is None or isinstance(value, EncryptedSecret):
            return value
        return EncryptedSecret(value)

    def get_prep_value(self, value):
        if value is None:
            return None
        if isinstance(value, EncryptedSecret):
            token = value.stored_token()
            if token is not None:
                return token
            value = value.reveal()
        return encrypt(value)

    def value_to_string(self, obj):
        # Serialization (dumpdata, admin history) never gets the secret.
        return ""
