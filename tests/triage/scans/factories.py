"""The factories live in tests/factories.py; this name stays for tests that still import it."""

from tests.factories import (
    FindingFactory,
    FixFactory,
    PullRequestFactory,
    RepositoryFactory,
    ScanBatchFactory,
    link,
)

__all__ = [
    "FindingFactory",
    "FixFactory",
    "PullRequestFactory",
    "RepositoryFactory",
    "ScanBatchFactory",
    "link",
]
