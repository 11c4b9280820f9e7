"""W16: the Hessian of a small MLP's loss w.r.t. its flat parameter vector (421 parameters).

The model reads its weights from one vector ``theta``: ``W1`` (10x35), ``b1`` (35), ``w2``
(35) and ``b2``, so that the loss ``mean((tanh(X W1 + b1) w2 + b2 - y)**2)`` on 64
examples is a function of ``theta`` alone and its Hessian a 421x421 matrix. Row ``nbgrad``
declares the static sizes (``TensorType('float64', (421,))`` and a (64, 10) batch); row
``nbgrad_dynamic`` uses ``T.dvector`` and ``T.dmatrix``. JAX (``jax.jit(jax.hessian)``) is
the reference where it is installed. W17 reuses the model (its Hessian-vector product).
"""

import numpy as np

TITLE = "Hessian of a small MLP's loss w.r.t. its 421 flat parameters (10-35-1, tanh, 64 examples)"
IMPLS = ["jax", "nbgrad", "nbgrad_dynamic", "pytensor", "torch"]
N, D, H = 64, 10, 35
P = D * H + H + H + 1  # 421
RTOL = 1e-7
ATOL = 1e-10


def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, D))
    y = rng.standard_normal(N)
    theta = rng.standard_normal(P) * 0.3
    v = rng.standard_normal(P)
    return theta, X, y, v


def loss(theta, X, y, tanh):
    """The loss, written once for every array library with a ``tanh`` and ``@``."""
    W1 = theta[:D * H].reshape((D, H))
    b1 = theta[D * H:D * H + H]
    w2 = theta[D * H + H:D * H + 2 * H]
    b2 = theta[P - 1]
    out = tanh(X @ W1 + b1) @ w2 + b2
    return ((out - y) ** 2).mean()


def nbgrad_inputs(static):
    import nbgrad.tensor as T

    if static:
        return (T.TensorType("float64", (P,))("theta"), T.TensorType("float64", (N, D))("X"),
                T.TensorType("float64", (N,))("y"), T.TensorType("float64", (P,))("v"))
    return T.dvector("theta"), T.dmatrix("X"), T.dvector("y"), T.dvector("v")


def setup(impl):
    theta, X, y, _ = data()
    if impl in ("nbgrad", "nbgrad_dynamic"):
        import nbgrad
        import nbgrad.tensor as T

        th, x, t, _ = nbgrad_inputs(impl == "nbgrad")
        f = nbgrad.function([th, x, t], T.hessian(loss(th, x, t, T.tanh), th))
        return lambda: f(theta, X, y)
    if impl == "pytensor":
        try:
            import pytensor
            import pytensor.tensor as pt
        except ImportError:
            return None
        th, x, t = pt.dvector("theta"), pt.dmatrix("X"), pt.dvector("y")
        f = pytensor.function([th, x, t], pytensor.gradient.hessian(loss(th, x, t, pt.tanh), th))
        return lambda: f(theta, X, y)
    if impl == "jax":
        try:
            import jax
        except ImportError:
            return None
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        hess = jax.jit(jax.hessian(lambda th, x, t: loss(th, x, t, jnp.tanh)))
        args = [jnp.asarray(a) for a in (theta, X, y)]
        hess(*args).block_until_ready()
        return lambda: hess(*args).block_until_ready()
    if impl == "torch":
        try:
            import torch
            from torch.func import hessian
        except ImportError:
            return None
        args = [torch.from_numpy(a) for a in (theta, X, y)]
        hess = hessian(lambda th: loss(th, args[1], args[2], torch.tanh))

        def run():
            with torch.no_grad():
                return hess(args[0]).numpy()

        return run
    return None
