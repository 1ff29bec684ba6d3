"""Unit-test fixtures."""

from collections.abc import Iterator

import pytest

from shifter import redact


@pytest.fixture(autouse=True)
def _empty_secret_registry() -> Iterator[None]:
    """Secrets registered by one test (a config load registers what it finds) are not
    masked in the next one's output."""
    redact.forget_all()
    yield
    redact.forget_all()
