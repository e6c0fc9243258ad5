"""The factories live in tests/factories.py; this name stays for tests that still import it."""

from tests.factories import SAMPLE_DIFF, FindingFactory, FixFactory, RepositoryFactory, sha

__all__ = ["SAMPLE_DIFF", "FindingFactory", "FixFactory", "RepositoryFactory", "sha"]
