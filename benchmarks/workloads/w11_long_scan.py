"""W11: a long scan over a small state, and its gradient.

``h_t = tanh(W h_{t-1} + x_t)`` with 8 units for 10,000 steps; one iteration computes the
gradient of ``sum(h_T)`` with respect to ``W`` (the forward loop and the backward loop).
Each step is a few microseconds of arithmetic, so this measures what a scan step costs
beyond its ops: ``nbgrad`` and PyTensor use ``scan``, JAX ``jax.lax.scan`` under
``jax.jit``, NumPy a hand-written forward and backward loop.
"""

import numpy as np

TITLE = "long scan, small state: h = tanh(W h + x_t), 8 units, 10,000 steps, + gradient w.r.t. W"
IMPLS = ["numpy", "nbgrad", "pytensor", "jax"]
STEPS, HIDDEN = 10_000, 8
RTOL = 1e-6
ATOL = 1e-9
#: nbgrad compiles a scan loop with Numba (where installed) once it has run 0.5 s with NumPy
#: (``config.scan_compiler='auto'``); W11 times that steady state, as JAX's and PyTensor's
#: compilation happens before timing too. The compile latency is measured apart.
WARMUP = 2.0


def _data():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((HIDDEN, HIDDEN)) / np.sqrt(HIDDEN)
    X = rng.standard_normal((STEPS, HIDDEN)) * 0.5
    h0 = np.zeros(HIDDEN)
    return W, X, h0


def _numpy_grad(W, X, h0):
    hs = np.empty((STEPS + 1, HIDDEN))
    hs[0] = h0
    tanh, dot = np.tanh, np.dot
    for t in range(STEPS):
        hs[t + 1] = tanh(dot(W, hs[t]) + X[t])
    g = np.ones(HIDDEN)
    gW = np.zeros_like(W)
    for t in range(STEPS, 0, -1):
        gz = g * (1 - hs[t] * hs[t])
        gW += np.outer(gz, hs[t - 1])
        g = dot(W.T, gz)
    return gW


def setup(impl):
    W, X, h0 = _data()
    if impl == "numpy":
        return lambda: _numpy_grad(W, X, h0)
    if impl == "nbgrad":
        import nbgrad
        import nbgrad.tensor as T

        w, xs, h = T.dmatrix("W"), T.dmatrix("X"), T.dvector("h0")
        hs, _ = nbgrad.scan(lambda x, hp, w: T.tanh(T.dot(w, hp) + x),
                            sequences=xs, outputs_info=h, non_sequences=[w])
        f = nbgrad.function([w, xs, h], T.grad(hs[-1].sum(), w))
        return lambda: f(W, X, h0)
    if impl == "pytensor":
        try:
            import pytensor
            import pytensor.tensor as pt
        except ImportError:
            return None
        w, xs, h = pt.dmatrix("W"), pt.dmatrix("X"), pt.dvector("h0")
        hs, _ = pytensor.scan(lambda x, hp, w: pt.tanh(pt.dot(w, hp) + x),
                              sequences=xs, outputs_info=h, non_sequences=[w])
        f = pytensor.function([w, xs, h], pytensor.grad(hs[-1].sum(), w))
        return lambda: f(W, X, h0)
    if impl == "jax":
        try:
            import jax
            import jax.numpy as jnp
        except ImportError:
            return None
        jax.config.update("jax_enable_x64", True)

        def loss(w, xs, h):
            def body(hp, x):
                return jnp.tanh(w @ hp + x), None

            hT, _ = jax.lax.scan(body, h, xs)
            return hT.sum()

        g = jax.jit(jax.grad(loss))
        args = [jnp.asarray(a) for a in (W, X, h0)]
        return lambda: np.asarray(g(*args).block_until_ready())
    return None
