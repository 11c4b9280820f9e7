"""Array backends: NumPy (CPU) and CuPy (GPU) behind one small interface.

A backend provides ``xp`` (the array module the linker emits code against),
``asarray``/``to_device`` (host value to backend array) and ``to_host``.
"""

from nbgrad.backends.memory import keep_freed_memory
from nbgrad.backends.numpy_backend import NumpyBackend
from nbgrad.config import config

__all__ = ["get_backend", "available_backends", "BackendUnavailable"]

_BACKENDS = {}


class BackendUnavailable(RuntimeError):
    """The requested backend cannot run here (missing package or device)."""


def get_backend(name=None):
    """The backend called ``name`` ('cpu' or 'gpu'; default ``config.backend``)."""
    name = name or config.backend
    if name in ("cpu", "numpy"):
        name = "cpu"
    elif name in ("gpu", "cuda", "cupy"):
        name = "gpu"
    else:
        raise ValueError(f"unknown backend {name!r}; expected 'cpu' or 'gpu'")
    if name not in _BACKENDS:
        if name == "cpu":
            keep_freed_memory()
            _BACKENDS[name] = NumpyBackend()
        else:
            from nbgrad.backends.cupy_backend import CupyBackend  # lazy: it imports CuPy, which is optional

            _BACKENDS[name] = CupyBackend()
    return _BACKENDS[name]


def available_backends():
    """Names of the backends that can run on this machine."""
    names = ["cpu"]
    try:
        get_backend("gpu")
        names.append("gpu")
    except BackendUnavailable:
        pass
    return names
