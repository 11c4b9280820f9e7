"""Devices of eager tensors: which backend holds an array, and moving values between them.

A tensor's device is read from its array: a NumPy array is on ``'cpu'``, a
CuPy array on ``'gpu'``. The backend (``nbgrad.backends.get_backend``) gives
the array module ``xp`` that every eager helper uses on that device, so no
NumPy function is ever called on device memory.
"""

import numpy as np

from nbgrad.backends import get_backend

__all__ = ["device_of", "canonical_device", "xp_of", "is_device_array", "move", "mixed_devices",
           "MixedDeviceError"]


class MixedDeviceError(RuntimeError):
    """An operation was given tensors on different devices."""


def device_of(array):
    """``'cpu'`` for NumPy values, ``'gpu'`` for device (CuPy) arrays."""
    return "cpu" if isinstance(array, (np.ndarray, np.generic)) else "gpu"


def canonical_device(device):
    """The device name for ``device`` ('cpu', 'gpu' or an alias; None: ``config.backend``).

    Raises ``BackendUnavailable`` (with the install hint) when the GPU is asked
    for where CuPy or a CUDA device is missing.
    """
    return get_backend(device).name


def xp_of(array):
    """The array module of the device holding ``array``."""
    if isinstance(array, (np.ndarray, np.generic)):
        return np
    return get_backend("gpu").xp


def is_device_array(obj):
    """True for arrays in GPU memory (anything exposing the CUDA array interface)."""
    return not isinstance(obj, np.ndarray) and hasattr(type(obj), "__cuda_array_interface__")


def move(array, device):
    """``array`` on ``device`` (the same object when it is already there, else a copy)."""
    source = device_of(array)
    if source == device:
        return array
    return get_backend(device).to_device(get_backend(source).to_host(array))


def mixed_devices(what, devices):
    """The error for an operation ``what`` given values on several ``devices``."""
    a, b = sorted(set(devices))
    return MixedDeviceError(
        f"{what}: expected all tensors on one device, but found tensors on {a!r} and {b!r}; "
        f"move them to one device first (x.to({b!r}) or x.cpu())"
    )
