"""Organizations and their API keys."""

import hashlib
import secrets

from django.db import transaction
from django.utils.text import slugify

from sandbox import clock
from sandbox.models import ApiKey, Organization

KEY_PREFIX = "kcp_test_"
# Characters of the plaintext key kept in clear to recognise it (``kcp_test_`` + 8).
VISIBLE_KEY_LENGTH = len(KEY_PREFIX) + 8
VALID_SCOPES = ("read", "write")


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def _unique_slug(base: str) -> str:
    slug = base or "org"
    candidate, n = slug, 2
    while Organization.objects.filter(slug=candidate).exists():
        candidate = f"{slug}-{n}"
        n += 1
    return candidate


@transaction.atomic
def organization_create(
    *,
    name: str,
    slug: str | None = None,
    scopes: tuple[str, ...] | list[str] = VALID_SCOPES,
    key_name: str = "Default key",
    plaintext_key: str | None = None,
) -> tuple[Organization, str]:
    """Create an organization with one API key; answer the plaintext key (shown once)."""
    organization = Organization.objects.create(
        name=name,
        slug=slug or _unique_slug(slugify(name)),
        created_at=clock.now(),
    )
    _, key = api_key_create(
        organization=organization, name=key_name, scopes=scopes, plaintext_key=plaintext_key
    )
    return organization, key


def api_key_create(
    *,
    organization: Organization,
    name: str,
    scopes: tuple[str, ...] | list[str] = VALID_SCOPES,
    plaintext_key: str | None = None,
) -> tuple[ApiKey, str]:
    """Create a key for ``organization``; only its hash is stored."""
    unknown = set(scopes) - set(VALID_SCOPES)
    if unknown:
        raise ValueError(f"unknown scopes: {sorted(unknown)}")
    plaintext = plaintext_key or KEY_PREFIX + secrets.token_urlsafe(24).replace("-", "x")
    if not plaintext.startswith(("kcp_test_", "kcp_live_")):
        raise ValueError("keys start with kcp_test_ or kcp_live_")
    key = ApiKey.objects.create(
        organization=organization,
        name=name,
        key_prefix=plaintext[:VISIBLE_KEY_LENGTH],
        key_hash=hash_key(plaintext),
        scopes=list(scopes),
        created_at=clock.now(),
    )
    return key, plaintext


def api_key_revoke(*, organization: Organization, key_prefix: str) -> int:
    """Revoke every key of ``organization`` whose prefix starts with ``key_prefix``."""
    return ApiKey.objects.filter(
        organization=organization, key_prefix__startswith=key_prefix, revoked_at__isnull=True
    ).update(revoked_at=clock.now())


def api_key_authenticate(*, plaintext: str) -> ApiKey | None:
    """The active key matching ``plaintext``, or None."""
    if not plaintext:
        return None
    return (
        ApiKey.objects.select_related("organization").filter(key_hash=hash_key(plaintext)).first()
    )
