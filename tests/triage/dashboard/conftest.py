from tests.triage.scans.conftest import scan_org  # noqa: F401  (shared fixtures)
