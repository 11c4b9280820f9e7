"""How freed array memory is kept for the next call on the CPU (glibc's malloc thresholds).

A compiled step allocates its temporaries afresh on each call and frees them when the
call returns. With glibc's default thresholds, arrays of a few megabytes are given back
to the operating system when freed (``munmap``, or trimming the top of the heap) and
fault their pages in again on the next call: in the LeNet-5 training step (W12,
``benchmarks/README.md``) that was about half of the step's time. PyTorch and XLA keep
freed memory in their own caching allocators; NumPy has none for arrays that size.

``keep_freed_memory`` sets glibc's two thresholds once, when the CPU backend is first
used: blocks below ``mmap`` bytes come from the heap, and up to ``trim`` bytes of free
memory at its top stay with the process. Larger arrays are still mapped and unmapped.
Nothing is done where the user chose the thresholds (the ``MALLOC_TRIM_THRESHOLD_`` or
``MALLOC_MMAP_THRESHOLD_`` environment variables), where ``NBGRAD_KEEP_FREED_MEMORY=0``,
or off glibc.
"""

import ctypes
import os
import platform

__all__ = ["keep_freed_memory", "TRIM_THRESHOLD", "MMAP_THRESHOLD"]

#: glibc's ``mallopt`` parameter numbers (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Free memory at the top of the heap kept by the process, in bytes.
TRIM_THRESHOLD = 128 * 2**20
#: Blocks at least this large are mapped on their own (and unmapped when freed).
MMAP_THRESHOLD = 32 * 2**20
_USER_SETTINGS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")

_done = []


def keep_freed_memory(environ=os.environ, libc=None):
    """Set glibc's malloc thresholds once per process; True if this call set them.

    ``environ`` and ``libc`` (an object with glibc's ``mallopt``) are for tests.
    """
    if _done and libc is None:
        return False
    if environ.get("NBGRAD_KEEP_FREED_MEMORY", "1") == "0" or any(k in environ for k in _USER_SETTINGS):
        return False
    if libc is None:
        if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
            return False
        try:
            libc = ctypes.CDLL(None)
            libc.mallopt  # noqa: B018 - probe: a libc without it is left alone
        except (OSError, AttributeError):
            return False
        _done.append(True)
    ok = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    ok = libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
    return ok
