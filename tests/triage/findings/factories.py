"""The factories live in tests/factories.py; this name stays for tests that still import it."""

from tests.factories import FindingEventFactory, FindingFactory, RepositoryFactory, ScanBatchFactory

__all__ = ["FindingEventFactory", "FindingFactory", "RepositoryFactory", "ScanBatchFactory"]
