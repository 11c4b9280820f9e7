"""W1: per-call overhead of f(x) = x*2 + 1 on a 10-element vector."""

import numpy as np

TITLE = "call overhead: f(x) = x*2 + 1 on a 10-vector (float64)"
IMPLS = ["numpy", "nbgrad", "pytensor", "jax", "torch", "autograd"]

X = np.linspace(-1.0, 1.0, 10)


def setup(impl):
    if impl == "numpy":
        return lambda: X * 2 + 1
    if impl == "nbgrad":
        import nbgrad
        import nbgrad.tensor as T

        x = T.dvector("x")
        f = nbgrad.function([x], x * 2 + 1)
        return lambda: f(X)
    if impl == "pytensor":
        try:
            import pytensor
            import pytensor.tensor as pt
        except ImportError:
            return None
        x = pt.dvector("x")
        f = pytensor.function([x], x * 2 + 1, mode="FAST_RUN")
        return lambda: f(X)
    if impl == "jax":
        try:
            import jax
        except ImportError:
            return None
        jax.config.update("jax_enable_x64", True)
        f = jax.jit(lambda x: x * 2 + 1)
        xj = jax.device_put(X)
        return lambda: f(xj).block_until_ready()
    if impl == "torch":
        try:
            import torch
        except ImportError:
            return None
        xt = torch.from_numpy(X)
        return lambda: xt * 2 + 1
    if impl == "autograd":
        try:
            import autograd.numpy as anp
        except ImportError:
            return None
        return lambda: anp.add(anp.multiply(X, 2), 1)
    return None
