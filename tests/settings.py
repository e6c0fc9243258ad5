"""Settings for the test suite: the portal's one settings module, read with test defaults for the
environment (see tests/environment.py). Values already in the environment win."""

import tests.environment  # noqa: F401  (sets environment defaults before the settings read them)
from portal.settings import *  # noqa: F403

# Hashing passwords at full strength makes up most of the time of tests that sign users in.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Tests run their syncs explicitly; a sync queued by connecting would race them under a worker.
PORTAL_SYNC_ON_CONNECT = False

# The per-account sign-in slowdown counts in the cache, which outlives each test's database:
# tests of the slowdown set a low threshold themselves.
PORTAL_SIGN_IN_SLOWDOWN_AFTER = 1000

# Tests add and re-verify many connections of teams with the same ids within a minute.
PORTAL_KEY_CHECKS_PER_MINUTE = 1000

# Tests send many notifications through channels whose ids repeat from test to test; the test
# of the channel rate limit sets a low one itself.
PORTAL_NOTIFY_CHANNEL_PER_MINUTE = 1000
