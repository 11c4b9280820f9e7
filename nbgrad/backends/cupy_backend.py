"""The GPU backend: CuPy arrays on an NVIDIA device.

Compiled functions on this backend take NumPy or CuPy arrays: a NumPy input
is checked on the host and copied to the device once per call, a CuPy input
of the right dtype is used as it is (no copy). Results are CuPy arrays on the
device; ``backend.to_host(r)`` (or ``r.get()``) copies one back. Shared
variables used by a GPU function live on the device and are copied back
only by ``get_value()``.
"""

import numpy as np

from nbgrad.backends import BackendUnavailable

__all__ = ["CupyBackend", "INSTALL_HINT"]

INSTALL_HINT = 'install the GPU extra with: pip install "nbgrad[gpu]" (CuPy for your CUDA version)'


def _import_cupy():
    try:
        import cupy  # lazy: CuPy is optional
    except ImportError as exc:
        raise BackendUnavailable(
            f"the GPU backend needs CuPy, which is not installed ({exc}); {INSTALL_HINT}"
        ) from None
    return cupy


class CupyBackend:
    """Arrays on the current CUDA device through CuPy.

    Raises
    ------
    BackendUnavailable
        When CuPy is not installed, or no CUDA device (or driver) can be used.
    """

    name = "gpu"

    def __init__(self):
        cupy = _import_cupy()
        try:
            n = cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:  # noqa: BLE001 - CUDA raises its own error types
            raise BackendUnavailable(
                f"the GPU backend found no usable CUDA device: {exc}. Check the NVIDIA driver "
                "(nvidia-smi) and that the CuPy build matches the CUDA version; "
                f"{INSTALL_HINT}"
            ) from None
        if n == 0:
            raise BackendUnavailable(
                "the GPU backend found no CUDA device on this machine (CuPy is installed, "
                "but cupy.cuda.runtime.getDeviceCount() is 0)"
            )
        self.xp = cupy
        self.ndarray = cupy.ndarray

    # ------------------------------------------------------------ conversions
    def asarray(self, value, dtype=None):
        return self.xp.asarray(value, dtype=dtype)

    def to_device(self, value):
        return self.xp.asarray(value)

    def to_host(self, value):
        return self.xp.asnumpy(value)

    def to_host_if_needed(self, value):
        if isinstance(value, self.ndarray):
            return self.xp.asnumpy(value)
        return value

    def synchronize(self):
        """Wait until every kernel queued on the current device has finished."""
        self.xp.cuda.Device().synchronize()

    # ---------------------------------------------------------------- inputs
    def filter(self, ttype, value, strict=False, allow_downcast=None, what="value"):
        """``value`` as a device array of ``ttype``; CuPy arrays of that dtype are not copied."""
        if isinstance(value, self.ndarray):
            return self._filter_device(ttype, value, strict, allow_downcast, what)
        return self.xp.asarray(ttype.filter(value, strict, allow_downcast, what))

    def _filter_device(self, ttype, value, strict, allow_downcast, what):
        dtype = ttype.numpy_dtype
        if value.dtype != dtype:
            if strict:
                raise TypeError(f"{what}: expected a CuPy array of dtype {ttype.dtype} (strict "
                                f"input), got dtype {value.dtype}")
            if not (allow_downcast or np.can_cast(value.dtype, dtype, "safe")):
                raise TypeError(
                    f"{what}: cannot convert a CuPy array of dtype {value.dtype} to {ttype.dtype} "
                    f"without loss of precision; cast it first (value.astype('{ttype.dtype}')) "
                    "or pass allow_input_downcast=True to function()"
                )
            value = value.astype(dtype)
        if value.ndim != ttype.ndim:
            raise TypeError(f"{what}: expected {ttype.ndim} dimension(s) ({ttype}), got "
                            f"{value.ndim} dimension(s) with shape {value.shape}")
        for i, (s, n) in enumerate(zip(ttype.shape, value.shape)):
            if s is not None and s != n:
                raise ValueError(f"{what}: expected shape {ttype.shape}, got {value.shape} "
                                 f"(size {n} on axis {i}, expected {s})")
        return value

    def make_filter(self, ttype, strict, allow_downcast, what):
        """The per-call input check: CuPy arrays of the right type pass untouched.

        A NumPy (or Python) value is checked on the host as on the CPU backend
        and then copied to the device once.
        """
        ndarray, dtype, ndim = self.ndarray, ttype.numpy_dtype, ttype.ndim
        static = any(s is not None for s in ttype.shape)
        filt = self.filter

        def check(v):
            if type(v) is ndarray and v.dtype == dtype and v.ndim == ndim and not static:
                return v
            return filt(ttype, v, strict, allow_downcast, what)

        return check

    # ---------------------------------------------------------- shared state
    def place_shared(self, container):
        """Move a host array held in a shared variable's cell onto the device (once)."""
        v = container[0]
        if isinstance(v, np.ndarray) and not isinstance(v, self.ndarray):
            container[0] = self.xp.asarray(v)

    def __repr__(self):
        return "<nbgrad backend gpu (cupy)>"
