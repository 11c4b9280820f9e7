"""Run the benchmark workloads side by side and print times and ratios.

Usage::

    python benchmarks/run.py              # every workload in benchmarks/workloads/w*.py
    python benchmarks/run.py w1 w2        # selected workloads (by module name prefix)
    python benchmarks/run.py --repeat 7   # more timing repeats
    python benchmarks/run.py --threads 1  # every library limited to one thread
    python benchmarks/run.py --clock cpu  # process CPU time instead of wall-clock time

Each workload module defines ``TITLE``, ``IMPLS`` and ``setup(impl)``, or ``TITLE`` and
``report()`` for a workload that prints its own table (W9, compile-time scaling); see
``benchmarks/README.md``. All implementations run in this one process; their
results are checked against the first one that runs (NumPy where present).

``--threads N`` sets the same limit for every library before any of them is
imported: ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` (NumPy's
BLAS, PyTorch), ``NBGRAD_NUM_THREADS`` (nbgrad's elementwise evaluator) and
``XLA_FLAGS`` (JAX: ``--xla_cpu_multi_thread_eigen`` off for 1, and
``intra_op_parallelism_threads=N``). Without it every library uses its default.

``--clock cpu`` times with ``time.process_time`` (the CPU time of every thread of this
process) instead of ``time.perf_counter``: on a machine shared with other jobs, wall-clock
time measures the share of the CPUs a process got as much as the work it did. With
``--threads 1`` it is the fairest comparison on a loaded machine; without it, a library
that spreads work over threads is charged for all of them.
"""

import os
import sys


def _apply_thread_limit(argv):
    """Set the thread environment from ``--threads N`` before NumPy is imported."""
    n = None
    for k, a in enumerate(argv):
        if a == "--threads" and k + 1 < len(argv):
            n = argv[k + 1]
        elif a.startswith("--threads="):
            n = a.split("=", 1)[1]
    if n is None:
        return None
    n = str(int(n))
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NBGRAD_NUM_THREADS"):
        os.environ[var] = n
    flags = f"intra_op_parallelism_threads={n}"
    if n == "1":
        flags = "--xla_cpu_multi_thread_eigen=false " + flags
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flags).strip()
    return int(n)


THREADS = _apply_thread_limit(sys.argv[1:]) if __name__ == "__main__" else None

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import pathlib  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def load_workloads(names):
    mods = []
    for path in sorted((HERE / "workloads").glob("w*.py")):
        if names and not any(path.stem == n or path.stem.startswith(n + "_") or path.stem.startswith(n)
                             for n in names):
            continue
        spec = importlib.util.spec_from_file_location(f"workloads.{path.stem}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        mods.append((path.stem, mod))
    return mods


def time_call(fn, repeat, min_time=0.2, clock=time.perf_counter):
    """Best per-call seconds over ``repeat`` rounds, each long enough to time reliably."""
    fn()
    n, t = 1, 0.0
    while True:
        t0 = clock()
        for _ in range(n):
            fn()
        t = clock() - t0
        if t >= min_time / 4 or n >= 1 << 20:
            break
        n *= 4
    best = t / n
    for _ in range(repeat - 1):
        t0 = clock()
        for _ in range(n):
            fn()
        best = min(best, (clock() - t0) / n)
    return best


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def _warm_up(fn, seconds):
    """Call ``fn`` for ``seconds`` of wall-clock time before it is checked and timed.

    For a workload whose steady state comes after a while (W11: a scan loop is compiled
    once it has run 0.5 s), as compiling a JAX or PyTensor function is left out of the time.
    """
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        fn()


def _fmt(sec):
    if sec < 1e-3:
        return f"{sec * 1e6:9.2f} µs"
    if sec < 1:
        return f"{sec * 1e3:9.2f} ms"
    return f"{sec:9.3f} s "


def _as_array(r):
    if hasattr(r, "detach"):
        r = r.detach()
    if isinstance(r, (list, tuple)):
        return [_as_array(x) for x in r]
    return np.asarray(r)


def _agree(a, b, rtol, atol):
    if isinstance(a, list) or isinstance(b, list):
        return isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and all(
            _agree(x, y, rtol, atol) for x, y in zip(a, b))
    return a.shape == b.shape and np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


def run_workload(name, mod, repeat, clock=time.perf_counter):
    print(f"\n{name}: {mod.TITLE}")
    if hasattr(mod, "report"):  # a workload with its own table (W9: compile-time scaling)
        mod.report()
        return []
    rows, ref, ref_impl = [], None, None
    rtol = getattr(mod, "RTOL", 1e-6)
    atol = getattr(mod, "ATOL", 1e-8)
    for impl in mod.IMPLS:
        try:
            fn = mod.setup(impl)
        except Exception as exc:  # noqa: BLE001 - a broken peer must not stop the table
            rows.append((impl, None, f"setup failed: {type(exc).__name__}: {exc}"))
            continue
        if fn is None:
            rows.append((impl, None, "not available"))
            continue
        try:
            res = _as_array(fn())
        except Exception as exc:  # noqa: BLE001
            rows.append((impl, None, f"failed: {type(exc).__name__}: {exc}"))
            continue
        _warm_up(fn, getattr(mod, "WARMUP", 0.0))
        check = getattr(mod, "CHECK", True) and impl not in getattr(mod, "UNCHECKED", ())
        note = ""
        if check:
            if ref is None:
                ref, ref_impl = res, impl
                note = "reference"
            elif _agree(res, ref, rtol, atol):
                note = f"agrees with {ref_impl}"
            else:
                note = f"DISAGREES with {ref_impl}"
        rows.append((impl, time_call(fn, getattr(mod, "REPEAT", repeat),
                                     getattr(mod, "MIN_TIME", 0.2), clock), note))
    base = next((t for impl, t, _ in rows if impl == "nbgrad" and t is not None), None)
    print(f"  {'implementation':<18}{'time':>13}  {'vs nbgrad':>10}  check")
    for impl, t, note in rows:
        if t is None:
            print(f"  {impl:<18}{'-':>13}  {'-':>10}  {note}")
            continue
        ratio = f"{t / base:9.2f}×" if base else "-"
        print(f"  {impl:<18}{_fmt(t):>13}  {ratio:>10}  {note}")
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help="workload names or prefixes (w1, w2_elemwise, ...)")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                   help="wall-clock time (default) or the process's CPU time")
    p.add_argument("--threads", type=int, default=None,
                   help="limit every library to N threads (set before they are imported)")
    args = p.parse_args(argv)
    if args.threads is not None and THREADS is None:
        print("--threads must be given on the command line (it is applied before NumPy is imported)",
              file=sys.stderr)
        return 2
    if args.threads is not None:
        try:
            import torch

            torch.set_num_threads(args.threads)
        except ImportError:
            pass
    mods = load_workloads(args.names)
    if not mods:
        print(f"no workload matches {args.names}", file=sys.stderr)
        return 2
    print("threads: " + (f"{THREADS} for every library" if THREADS else "each library's default"))
    print("clock: " + ("process CPU time" if args.clock == "cpu" else "wall-clock time"))
    print("ratios: time / nbgrad's time (above 1: slower than nbgrad)")
    bad = False
    for name, mod in mods:
        rows = run_workload(name, mod, args.repeat, CLOCKS[args.clock])
        bad |= any("DISAGREES" in note for _, _, note in rows)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
