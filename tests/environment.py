"""Test defaults for the environment the settings module reads.

Imported by tests/settings.py (the DJANGO_SETTINGS_MODULE of pytest) before the portal's
settings read the environment. Values already in the environment (CI's DATABASE_URL and
REDIS_URL) win.
"""

import os
import secrets

from cryptography.fernet import Fernet

# Tests run with DEBUG off, where published keys are refused: fresh ones per run, which the
# worker processes that tests start inherit through the environment.
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault(
    "PORTAL_ENCRYPTION_KEYS", f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}"
)
os.environ.setdefault("SANDBOX_ENABLED", "1")
# The sandbox answers over plain http, and tests that go over the network stay on loopback.
os.environ.setdefault("PORTAL_OUTBOUND_ALLOW_HTTP", "1")
os.environ.setdefault("PORTAL_OUTBOUND_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")
os.environ.setdefault("PORTAL_HTTPS", "0")
os.environ.setdefault("PORTAL_STATIC_MANIFEST", "0")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1,sandbox.test")
os.environ.setdefault("PORTAL_VAR_DIR", os.path.join(os.getcwd(), "var", "test"))
