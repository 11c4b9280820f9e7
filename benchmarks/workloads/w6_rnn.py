"""W6: RNN h_t = tanh(W h_{t-1} + U x_t), T=100, hidden 128, input 64, batch 32, float32.

One iteration runs the recurrence forward and computes the gradient of
sum(h_T) with respect to W (backpropagation through time); the callable
returns that gradient. ``nbgrad`` and PyTensor use ``scan``, JAX uses
``jax.lax.scan`` under ``jax.jit``, PyTorch a Python loop with autograd,
NumPy a hand-written forward and backward loop.
"""

import numpy as np

TITLE = "RNN forward + BPTT gradient w.r.t. W, T=100, hidden 128, input 64, batch 32, float32"
IMPLS = ["numpy", "nbgrad", "pytensor", "jax", "torch"]

STEPS, HIDDEN, INPUT, BATCH = 100, 128, 64, 32
# float32 through 100 steps: summation order differs between libraries
RTOL = 1e-4
ATOL = 1e-4


def _data():
    rng = np.random.default_rng(0)
    W = (rng.standard_normal((HIDDEN, HIDDEN)) / np.sqrt(HIDDEN)).astype(np.float32)
    U = (rng.standard_normal((HIDDEN, INPUT)) / np.sqrt(INPUT)).astype(np.float32)
    X = rng.standard_normal((STEPS, BATCH, INPUT)).astype(np.float32)
    h0 = np.zeros((BATCH, HIDDEN), dtype=np.float32)
    return W, U, X, h0


def _numpy_step(W, U, X, h0):
    # rows are batch entries: h_t = tanh(h_{t-1} W^T + x_t U^T)
    hs = [h0]
    for x in X:
        hs.append(np.tanh(hs[-1] @ W.T + x @ U.T))
    g = np.ones_like(h0)
    gW = np.zeros_like(W)
    for t in range(STEPS, 0, -1):
        gz = g * (1 - hs[t] * hs[t])
        gW += gz.T @ hs[t - 1]
        g = gz @ W
    return gW


def setup(impl):
    W, U, X, h0 = _data()
    if impl == "numpy":
        return lambda: _numpy_step(W, U, X, h0)
    if impl == "nbgrad":
        import nbgrad
        import nbgrad.tensor as T

        w, u = T.fmatrix("W"), T.fmatrix("U")
        xs, h = T.ftensor3("X"), T.fmatrix("h0")
        hs, _ = nbgrad.scan(lambda x, hp, w, u: T.tanh(T.dot(hp, w.T) + T.dot(x, u.T)),
                            sequences=xs, outputs_info=h, non_sequences=[w, u])
        f = nbgrad.function([w, u, xs, h], T.grad(hs[-1].sum(), w))
        return lambda: f(W, U, X, h0)
    if impl == "pytensor":
        try:
            import pytensor
            import pytensor.tensor as pt
        except ImportError:
            return None
        w, u = pt.fmatrix("W"), pt.fmatrix("U")
        xs, h = pt.ftensor3("X"), pt.fmatrix("h0")
        hs, _ = pytensor.scan(lambda x, hp, w, u: pt.tanh(pt.dot(hp, w.T) + pt.dot(x, u.T)),
                              sequences=xs, outputs_info=h, non_sequences=[w, u])
        f = pytensor.function([w, u, xs, h], pytensor.grad(hs[-1].sum(), w))
        return lambda: f(W, U, X, h0)
    if impl == "jax":
        try:
            import jax
            import jax.numpy as jnp
        except ImportError:
            return None

        def loss(w, u, xs, h):
            def body(hp, x):
                hn = jnp.tanh(hp @ w.T + x @ u.T)
                return hn, None

            hT, _ = jax.lax.scan(body, h, xs)
            return hT.sum()

        g = jax.jit(jax.grad(loss))
        args = [jnp.asarray(a) for a in (W, U, X, h0)]
        return lambda: np.asarray(g(*args).block_until_ready())
    if impl == "torch":
        try:
            import torch
        except ImportError:
            return None
        tW = torch.from_numpy(W.copy()).requires_grad_(True)
        tU, tX, th0 = (torch.from_numpy(a.copy()) for a in (U, X, h0))

        def step():
            tW.grad = None
            h = th0
            for t in range(STEPS):
                h = torch.tanh(h @ tW.T + tX[t] @ tU.T)
            h.sum().backward()
            return tW.grad.numpy()

        return step
    return None


if __name__ == "__main__":
    import time

    ref = None
    results = {}
    for impl in IMPLS:
        fn = setup(impl)
        if fn is None:
            print(f"{impl:9s} not available")
            continue
        out = np.asarray(fn())
        if ref is None:
            ref = out
        err = float(np.abs(out - ref).max() / (np.abs(ref).max() + 1e-30))
        for _ in range(3):
            fn()
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < 2.0:
            fn()
            n += 1
        results[impl] = (time.perf_counter() - t0) / n
        print(f"{impl:9s} {results[impl] * 1e3:8.3f} ms/iter   rel. diff vs numpy {err:.1e}")
    if "nbgrad" in results:
        for peer in ("pytensor", "jax", "torch", "numpy"):
            if peer in results:
                print(f"nbgrad / {peer}: {results['nbgrad'] / results[peer]:.2f}")
