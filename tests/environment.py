"""Test defaults for the environment the settings module reads.

Imported by tests/settings.py (the DJANGO_SETTINGS_MODULE of pytest) before the portal's
settings read the environment. Values already in the environment (CI's DATABASE_URL and
REDIS_URL) win.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-use-0123456789abcdef")
os.environ.setdefault(
    "PORTAL_ENCRYPTION_KEYS",
    "Yk2mlm2c0eXqg0tTk0qIuGqUBo4nB9Yb8Hj7tZk1u3I=,8006m57EbXjZQQGhkLHq5kdyUgt-J50z40ryqrLZuNM=",
)
os.environ.setdefault("SANDBOX_ENABLED", "1")
os.environ.setdefault("PORTAL_HTTPS", "0")
os.environ.setdefault("PORTAL_STATIC_MANIFEST", "0")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1,sandbox.test")
os.environ.setdefault("PORTAL_VAR_DIR", os.path.join(os.getcwd(), "var", "test"))
