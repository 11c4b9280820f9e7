"""The CPU backend keeps freed array memory for the next call (glibc's malloc thresholds)."""

import os
import platform
import subprocess
import sys
import textwrap

import pytest

from nbgrad.backends import memory


class _FakeLibc:
    def __init__(self):
        self.calls = []

    def mallopt(self, param, value):
        self.calls.append((param, value))
        return 1


def test_sets_both_thresholds():
    libc = _FakeLibc()
    assert memory.keep_freed_memory(environ={}, libc=libc)
    assert sorted(libc.calls) == sorted([(-3, memory.MMAP_THRESHOLD), (-1, memory.TRIM_THRESHOLD)])


@pytest.mark.parametrize("environ", [
    {"NBGRAD_KEEP_FREED_MEMORY": "0"},
    {"MALLOC_TRIM_THRESHOLD_": "1000"},
    {"MALLOC_MMAP_THRESHOLD_": "1000"},
])
def test_leaves_the_allocator_alone_when_told_or_when_the_user_chose(environ):
    libc = _FakeLibc()
    assert not memory.keep_freed_memory(environ=environ, libc=libc)
    assert libc.calls == []


_ROUNDS = textwrap.dedent("""
    import resource, numpy as np, nbgrad, nbgrad.tensor as T
    x = T.dvector("x")
    nbgrad.function([x], x + 1)  # first use of the CPU backend
    def round_():
        arrays = [np.ones(2**18) for _ in range(10)]  # 10 arrays of 2 MiB alive at once
        del arrays
    round_()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        round_()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")


def _page_faults(**env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    environ.update(env)
    out = subprocess.run([sys.executable, "-c", _ROUNDS], env=environ, capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="the thresholds are glibc's; other C libraries are left alone")
def test_arrays_freed_and_made_again_do_not_fault_their_pages_in_again():
    kept = _page_faults()
    given_back = _page_faults(NBGRAD_KEEP_FREED_MEMORY="0")
    pages = 20 * 10 * 2**21 // 4096  # what faulting every array in again would cost
    assert given_back > pages // 2, given_back
    assert kept < pages // 20, (kept, given_back)
