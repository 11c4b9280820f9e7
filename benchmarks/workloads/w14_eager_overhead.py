"""W14: per-op overhead of nbgrad.eager next to PyTorch eager, on small tensors.

Each case runs the same code with ``lib = nbgrad.eager`` and ``lib = torch`` (CPU, the
library's default threads) on float32 tensors of 10, 100 and 1000 elements: ``a + b``,
``a @ m`` (a vector times a square matrix of the vector's length, capped at 100), ``a.sum()``,
and a forward-and-backward ``(a * b).sum().backward()`` with ``a.requires_grad``.
Prints microseconds per call (best of 5 repeats) and the ratio nbgrad / torch.
"""

import timeit

import numpy as np

TITLE = "eager per-op overhead on small tensors (add, matmul, sum, backward), nbgrad.eager vs torch"
SIZES = (10, 100, 1000)


def cases(lib, n):
    rng = np.random.RandomState(0)
    k = min(n, 100)
    a = lib.tensor(rng.rand(n).astype(np.float32))
    b = lib.tensor(rng.rand(n).astype(np.float32))
    v = lib.tensor(rng.rand(k).astype(np.float32))
    m = lib.tensor(rng.rand(k, k).astype(np.float32))
    g = lib.tensor(rng.rand(n).astype(np.float32), requires_grad=True)

    def backward():
        g.grad = None
        (g * b).sum().backward()

    return {"add": lambda: a + b, "matmul": lambda: v @ m, "sum": lambda: a.sum(),
            "forward+backward": backward}


def best_us(fn, number=500):
    fn()
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def table():
    """Rows of (case, n, nbgrad us, torch us); torch us is None without torch."""
    import nbgrad.eager

    try:
        import torch
    except ImportError:
        torch = None
    rows = []
    for n in SIZES:
        ours = cases(nbgrad.eager, n)
        theirs = cases(torch, n) if torch is not None else {}
        for name, fn in ours.items():
            rows.append((name, n, best_us(fn), best_us(theirs[name]) if name in theirs else None))
    return rows


def report():
    rows = table()
    print(f"  {'case':<18}{'elements':>9}{'nbgrad us':>11}{'torch us':>10}{'nbgrad/torch':>14}")
    for name, n, ours, theirs in rows:
        ratio = f"{ours / theirs:13.2f}×" if theirs else "  torch not installed"
        t = f"{theirs:10.1f}" if theirs else f"{'-':>10}"
        print(f"  {name:<18}{n:>9}{ours:11.1f}{t}{ratio}")
