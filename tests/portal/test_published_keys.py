"""With DEBUG off, the portal refuses to start with a key published in this repository."""

import pytest
from cryptography.fernet import Fernet

from tests.portal.test_hardening import _production_env, _run_python

DEV_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production-0123456789"
OLD_TEST_SECRET_KEY = "test-secret-key-not-for-production-use-0123456789abcdef"
DEV_ENCRYPTION_KEY = "8006m57EbXjZQQGhkLHq5kdyUgt-J50z40ryqrLZuNM="
OLD_TEST_ENCRYPTION_KEY = "Yk2mlm2c0eXqg0tTk0qIuGqUBo4nB9Yb8Hj7tZk1u3I="


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SECRET_KEY", DEV_SECRET_KEY),
        ("SECRET_KEY", OLD_TEST_SECRET_KEY),
        ("SECRET_KEY", "build-only"),
        ("PORTAL_ENCRYPTION_KEYS", DEV_ENCRYPTION_KEY),
        # Also as an old key kept only to decrypt: whoever read it can read what it encrypted.
        ("PORTAL_ENCRYPTION_KEYS", f"{Fernet.generate_key().decode()},{OLD_TEST_ENCRYPTION_KEY}"),
    ],
)
def test_production_refuses_a_published_key(name, value):
    env = _production_env()
    env[name] = value
    result = _run_python("import django; django.setup()", env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{name} " in result.stderr and "published development" in result.stderr


@pytest.mark.slow
def test_development_still_starts_with_the_published_defaults():
    env = _production_env()
    env["DEBUG"] = "1"
    env.pop("SECRET_KEY")
    env.pop("PORTAL_ENCRYPTION_KEYS")
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECRET_KEY.startswith('dev-only'), len(s.PORTAL_ENCRYPTION_KEYS))"
    )
    result = _run_python(code, env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "1"]


def test_the_test_run_uses_no_published_key(settings):
    from portal import settings as portal_settings

    assert not settings.DEBUG
    assert settings.SECRET_KEY not in portal_settings._PUBLISHED_SECRET_KEYS
    assert not portal_settings._PUBLISHED_ENCRYPTION_KEYS.intersection(
        settings.PORTAL_ENCRYPTION_KEYS
    )
