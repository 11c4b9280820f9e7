"""W5: the full Hessian of f(x) = sum(x[:-1]**2 * x[1:]) + sum(sin(x)) for n = 300.

Row ``nbgrad`` declares the static length (``TensorType('float64', (300,))``);
row ``nbgrad_dynamic`` is the same function of a ``T.dvector``.
"""

import numpy as np

TITLE = "Hessian of sum(x[:-1]**2 * x[1:]) + sum(sin(x)), n=300"
IMPLS = ["numpy", "nbgrad", "nbgrad_dynamic", "pytensor", "jax", "torch", "autograd"]

N = 300


def _data():
    return np.random.default_rng(0).normal(size=N)


def _numpy_hessian(x):
    """The Hessian written out by hand: tridiagonal."""
    h = np.diag(-np.sin(x))
    h[np.arange(N - 1), np.arange(N - 1)] += 2 * x[1:]
    off = 2 * x[:-1]
    h[np.arange(N - 1), np.arange(1, N)] += off
    h[np.arange(1, N), np.arange(N - 1)] += off
    return h


def setup(impl):
    x = _data()
    if impl == "numpy":
        return lambda: _numpy_hessian(x)
    if impl in ("nbgrad", "nbgrad_dynamic"):
        import nbgrad
        import nbgrad.tensor as T

        xv = T.TensorType("float64", (N,))("x") if impl == "nbgrad" else T.dvector("x")
        cost = (xv[:-1] ** 2 * xv[1:]).sum() + T.sin(xv).sum()
        f = nbgrad.function([xv], T.hessian(cost, xv))
        return lambda: f(x)
    if impl == "pytensor":
        try:
            import pytensor
            import pytensor.tensor as pt
        except ImportError:
            return None
        xv = pt.dvector("x")
        cost = (xv[:-1] ** 2 * xv[1:]).sum() + pt.sin(xv).sum()
        f = pytensor.function([xv], pytensor.gradient.hessian(cost, xv))
        return lambda: f(x)
    if impl == "jax":
        try:
            import jax
        except ImportError:
            return None
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        hess = jax.jit(jax.hessian(lambda x: jnp.sum(x[:-1] ** 2 * x[1:]) + jnp.sum(jnp.sin(x))))
        xj = jnp.asarray(x)
        hess(xj).block_until_ready()
        return lambda: hess(xj).block_until_ready()
    if impl == "torch":
        try:
            import torch
            from torch.func import hessian
        except ImportError:
            return None
        xt = torch.from_numpy(x)
        hess = hessian(lambda x: (x[:-1] ** 2 * x[1:]).sum() + torch.sin(x).sum())

        def run():
            with torch.no_grad():
                return hess(xt).numpy()

        return run
    if impl == "autograd":
        try:
            import autograd
            import autograd.numpy as anp
        except ImportError:
            return None
        hess = autograd.hessian(lambda x: anp.sum(x[:-1] ** 2 * x[1:]) + anp.sum(anp.sin(x)))
        return lambda: hess(x)
    return None
