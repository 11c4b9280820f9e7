"""What the stabilizing rewrites cost per step: the same textbook graphs with and without them.

Issue 18 asks that the stabilized graphs cost no more than the unstable ones. Two steps, each
compiled twice from one graph, in FAST_RUN and in FAST_RUN without the rewrites tagged
``stability`` (``Mode(excluding=["stability"])``):

- ``logistic``: W10, the Theano tutorial's logistic-regression loop as the tutorial writes it
  (``1 / (1 + exp(-x·w - b))``, ``-y·log(p) - (1 - y)·log(1 - p)``; 400×20 float64, 200 calls
  with updates per iteration);
- ``mlp``: W3's 784-512-512-10 tanh MLP step (batch 256, float32) with the loss as course code
  writes it, ``-mean(log(softmax(h))[arange(n), y])``, and the gradients of all six parameters.

On data where both are finite the two compiled functions give the same numbers (checked before
timing). The two versions are timed alternately, round after round, as process CPU time per
call, and each row is the best round::

    python benchmarks/stability_cost.py [--rounds 7] [--threads 1]
"""

import argparse
import os
import sys
import time


def _limit_threads(argv):
    if "--threads" in argv:
        n = argv[argv.index("--threads") + 1]
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NBGRAD_NUM_THREADS"):
            os.environ[var] = n


_limit_threads(sys.argv)

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nbgrad  # noqa: E402
import nbgrad.tensor as T  # noqa: E402
from nbgrad.rewriting import Mode  # noqa: E402
from workloads import w3_mlp, w10_training_loop  # noqa: E402

MODES = {"stabilized": Mode("FAST_RUN"), "unstabilized": Mode("FAST_RUN", excluding=["stability"])}


def logistic(mode):
    return w10_training_loop.tutorial_loop(nbgrad, T, nbgrad.grad, mode=mode)


def mlp(mode):
    xv, yv, params = w3_mlp._data()
    X, Y = T.fmatrix("X"), T.lvector("Y")
    ps = [nbgrad.shared(p.copy()) for p in params]
    h = X
    for k in range(0, 6, 2):
        h = T.dot(h, ps[k]) + ps[k + 1]
        if k < 4:
            h = T.tanh(h)
    loss = -T.mean(T.log(T.nnet.softmax(h))[T.arange(Y.shape[0]), Y])
    gs = T.grad(loss, ps)
    step = nbgrad.function([X, Y], [loss] + gs, mode=mode)  # the step's work, parameters kept

    def once():
        return step(xv, yv)[0]

    return step, once


def _best(fn, min_time=0.2):
    """Process CPU time per call (the machine may be shared: wall time would count the waits)."""
    n, t = 0, 0.0
    start = time.process_time()
    while t < min_time:
        fn()
        n += 1
        t = time.process_time() - start
    return t / n


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--threads", type=int, default=None, help="limit NumPy/BLAS and nbgrad threads")
    args = p.parse_args(argv)
    for name, build in (("logistic (W10, 200 calls)", logistic), ("mlp (W3 step, log(softmax))", mlp)):
        built = {k: build(m) for k, m in MODES.items()}
        runs = {k: fn for k, (_, fn) in built.items()}
        ref = np.asarray(runs["unstabilized"]())
        got = np.asarray(runs["stabilized"]())
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
        best = {k: float("inf") for k in runs}
        for _ in range(args.rounds):
            for k, fn in runs.items():
                best[k] = min(best[k], _best(fn))
        nodes = {k: len(f.maker.fgraph.apply_nodes) for k, (f, _) in built.items()}
        print(f"{name}")
        for k in runs:
            print(f"  {k:13s} {best[k] * 1e3:8.3f} ms  ({nodes[k]} nodes)")
        print(f"  stabilized / unstabilized: {best['stabilized'] / best['unstabilized']:.3f}")


if __name__ == "__main__":
    main()
