"""W9: how compile time grows with graph size (fitted log-log exponent per family).

Families, each built and compiled cold (no compile cache) at 10³, 10⁴ and 10⁵ links:

- ``chain``: ``tanh(tanh(... tanh(x)))``, n deep;
- ``sum``: ``t₁ + t₂ + ... + tₙ`` of distinct terms ``tᵢ = sin(x · cᵢ)``, one long left-deep sum;
- ``tree``: the same n terms summed pairwise (a balanced tree);
- ``grad``: the gradient of an n-deep ``tanh`` chain (a product chain of n factors).

The exponent is the slope of log(compile time) against log(n) over the sizes; 1 is linear.
Each point runs in a fresh process (cold: no compile cache, no earlier graphs in memory).
``NBGRAD_SCALING_SIZES=1000,10000`` runs other sizes (a quick run).
"""

import json
import os
import subprocess
import sys
import time

import numpy as np

TITLE = "compile time against graph size: chain, long sum, pairwise tree, gradient of a chain"
IMPLS = ["nbgrad"]
SIZES = tuple(int(s) for s in os.environ.get("NBGRAD_SCALING_SIZES", "1000,10000,100000").split(","))
X = np.linspace(-0.5, 0.5, 4)


def _terms(T, x, n):
    return [T.sin(x * (1.0 + k / n)) for k in range(n)]


def chain(T, x, n):
    y = x
    for _ in range(n):
        y = T.tanh(y)
    return y


def long_sum(T, x, n):
    terms = _terms(T, x, n)
    y = terms[0]
    for t in terms[1:]:
        y = y + t
    return y


def tree(T, x, n):
    terms = _terms(T, x, n)
    while len(terms) > 1:
        pairs = [terms[k] + terms[k + 1] for k in range(0, len(terms) - 1, 2)]
        terms = pairs + (terms[-1:] if len(terms) % 2 else [])
    return terms[0]


def grad(T, x, n):
    return T.grad(T.sum(chain(T, x, n)), x)


FAMILIES = {"chain": chain, "sum": long_sum, "tree": tree, "grad": grad}


def measure(family, n):
    """(build seconds, compile seconds, compile CPU seconds) for one cold build and compile of
    size ``n``. The CPU time of the process is what other jobs on a shared machine inflate least."""
    import nbgrad
    import nbgrad.tensor as T
    from nbgrad.rewriting import cache

    cache.enabled = False
    try:
        t0 = time.perf_counter()
        x = T.dvector("x")
        out = FAMILIES[family](T, x, n)
        t1, c1 = time.perf_counter(), time.process_time()
        f = nbgrad.function([x], out)
        t2, c2 = time.perf_counter(), time.process_time()
    finally:
        cache.enabled = True
    f(X)
    return t1 - t0, t2 - t1, c2 - c1


def measure_fresh(family, n):
    """``measure`` in a new Python process: each point starts from the same empty heap
    (graphs and kernels of earlier points would otherwise slow the garbage collector)."""
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import w9_compile_scaling as w; "
            "print(json.dumps(w.measure(sys.argv[2], int(sys.argv[3]))))")
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run([sys.executable, "-c", code, here, family, str(n)], capture_output=True,
                         text=True, check=True)
    return tuple(json.loads(out.stdout.strip().splitlines()[-1]))


def exponent(sizes, seconds):
    """The log-log slope of ``seconds`` against ``sizes`` (least squares)."""
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def report(sizes=SIZES):
    """Print a table of build and compile times and the fitted exponent of each family."""
    print(f"  {'family':<8}" + "".join(f"{n:>24,}" for n in sizes) + "   exponent")
    fitted = {}
    for family in FAMILIES:
        cells, times = [], []
        for n in sizes:
            build, comp, cpu = measure_fresh(family, n)
            times.append(cpu)
            cells.append(f"{comp:7.2f}s {cpu:6.2f}s (+{build:5.2f})")
        fitted[family] = exponent(sizes, times)
        print(f"  {family:<8}" + "".join(f"{c:>24}" for c in cells) + f"   {fitted[family]:8.2f}")
    print("  (compile seconds: wall clock, then CPU time of the process; the build of the graph in\n"
          "  parentheses; exponent of the compile CPU time)")
    return fitted


def setup(impl):
    return None  # this workload prints its own table (``report``)
