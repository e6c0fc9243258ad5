"""The portal version named in the User-Agent, read without importing Django."""

import triage

PORTAL_VERSION: str = getattr(triage, "__version__", "0.1.0")
