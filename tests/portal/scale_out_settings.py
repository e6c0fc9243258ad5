"""Settings of the web and worker processes the scale-out test starts: the test suite's, but an
account slows down after its first failed sign-in (tests/settings.py puts the slowdown out of
reach of other tests), so a failure counted by one web process is seen by the other."""

from tests.settings import *  # noqa: F403

PORTAL_SIGN_IN_SLOWDOWN_AFTER = 1
PORTAL_SIGN_IN_SLOWDOWN_MAX_SECONDS = 60
