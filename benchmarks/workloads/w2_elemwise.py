"""W2: a fused elementwise expression on 10 million float64 values."""

import numpy as np

TITLE = "y = tanh(x)*exp(-x**2) + 1/(1+exp(-x)), x: 10M float64"
IMPLS = ["numpy", "nbgrad", "pytensor", "jax", "torch", "autograd", "bandwidth"]
UNCHECKED = ("bandwidth",)
RTOL = 1e-6

N = 10_000_000
X = np.random.default_rng(0).standard_normal(N)


def setup(impl):
    if impl == "numpy":
        return lambda: np.tanh(X) * np.exp(-X ** 2) + 1 / (1 + np.exp(-X))
    if impl == "bandwidth":
        # lower bound: one read of x and one write of y (a copy into a fresh array)
        return lambda: np.copy(X)
    if impl == "nbgrad":
        import nbgrad
        import nbgrad.tensor as T

        x = T.dvector("x")
        f = nbgrad.function([x], T.tanh(x) * T.exp(-x ** 2) + 1 / (1 + T.exp(-x)))
        return lambda: f(X)
    if impl == "pytensor":
        try:
            import pytensor
            import pytensor.tensor as pt
        except ImportError:
            return None
        x = pt.dvector("x")
        f = pytensor.function([x], pt.tanh(x) * pt.exp(-x ** 2) + 1 / (1 + pt.exp(-x)),
                              mode="FAST_RUN")
        return lambda: f(X)
    if impl == "jax":
        try:
            import jax
            import jax.numpy as jnp
        except ImportError:
            return None
        jax.config.update("jax_enable_x64", True)
        f = jax.jit(lambda x: jnp.tanh(x) * jnp.exp(-x ** 2) + 1 / (1 + jnp.exp(-x)))
        xj = jax.device_put(X)
        return lambda: f(xj).block_until_ready()
    if impl == "torch":
        try:
            import torch
        except ImportError:
            return None
        xt = torch.from_numpy(X)
        return lambda: torch.tanh(xt) * torch.exp(-xt ** 2) + 1 / (1 + torch.exp(-xt))
    if impl == "autograd":
        try:
            import autograd.numpy as anp
        except ImportError:
            return None
        return lambda: anp.tanh(X) * anp.exp(-X ** 2) + 1 / (1 + anp.exp(-X))
    return None
