import pytest

from nbgrad.config import config


@pytest.fixture(autouse=True)
def _rewrite_errors_raise():
    """A failing rewrite is a test failure here, not a warning."""
    old = getattr(config, "on_rewrite_error", "warn")
    config.on_rewrite_error = "raise"
    yield
    config.on_rewrite_error = old
