import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def empty_cache():
    """Report figures are kept in the cache: each test starts without any."""
    cache.clear()
    yield
    cache.clear()
