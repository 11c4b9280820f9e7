"""The GPU backend: CuPy arrays on an NVIDIA device."""

from nbgrad.backends import BackendUnavailable

__all__ = ["CupyBackend"]

_INSTALL = 'install CuPy with: pip install "nbgrad[gpu]"'


class CupyBackend:
    name = "gpu"

    def __init__(self):
        try:
            import cupy
        except ImportError as exc:
            raise BackendUnavailable(
                f"the GPU backend needs CuPy, which is not installed ({exc}); {_INSTALL}"
            ) from None
        try:
            n = cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:  # noqa: BLE001 - CUDA raises its own error types
            raise BackendUnavailable(
                f"the GPU backend found no usable CUDA device: {exc}. Check the NVIDIA driver "
                "(nvidia-smi) and that the CuPy build matches the CUDA version"
            ) from None
        if n == 0:
            raise BackendUnavailable("the GPU backend found no CUDA device on this machine")
        self.xp = cupy

    def asarray(self, value, dtype=None):
        return self.xp.asarray(value, dtype=dtype)

    def to_device(self, value):
        return self.xp.asarray(value)

    def to_host(self, value):
        return self.xp.asnumpy(value)

    def to_host_if_needed(self, value):
        if isinstance(value, self.xp.ndarray):
            return self.xp.asnumpy(value)
        return value

    def __repr__(self):
        return "<nbgrad backend gpu (cupy)>"
