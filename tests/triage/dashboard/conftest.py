from tests.triage.scans.conftest import sandbox_clock, scan_org  # noqa: F401  (shared fixtures)
