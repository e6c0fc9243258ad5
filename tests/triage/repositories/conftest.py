import pytest

from tests.factories import FindingFactory, FixFactory, PullRequestFactory, ScanBatchFactory


@pytest.fixture
def repository_activity():
    """Gives a repository one of each thing its pages list, in this order: a finding (of
    `finding_values`), a scan batch, and a fix with a pull request. Returns (finding, batch,
    fix)."""

    def make(repository, **finding_values):
        finding = FindingFactory(repository=repository, **finding_values)
        batch = ScanBatchFactory(repository=repository)
        fix = FixFactory(repository=repository)
        PullRequestFactory(fix=fix)
        return finding, batch, fix

    return make
