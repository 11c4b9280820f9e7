"""Shared test configuration."""

import pytest

from nbgrad.backends import BackendUnavailable, get_backend

try:
    get_backend("gpu")
    _NO_GPU = None
except BackendUnavailable as exc:
    _NO_GPU = f"no CUDA device or no CuPy on this machine: {exc}"

#: Mark for tests that need a real CUDA device and CuPy; they skip, saying why, elsewhere.
requires_gpu = pytest.mark.skipif(_NO_GPU is not None, reason=_NO_GPU or "")
