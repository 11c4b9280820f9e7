"""W4: the Jacobian of tanh(W @ x) for a 500 × 500 matrix W (one full Jacobian per call).

Row ``nbgrad`` declares the static shapes (``TensorType('float64', (500, 500))``);
row ``nbgrad_dynamic`` is the same function of ``T.dmatrix``/``T.dvector``,
whose lengths are known only when it runs.
"""

import numpy as np

TITLE = "Jacobian of tanh(W @ x), W 500x500"
IMPLS = ["numpy", "nbgrad", "nbgrad_dynamic", "pytensor", "jax", "torch"]

N = 500


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(N, N)) / np.sqrt(N), rng.normal(size=N)


def setup(impl):
    w, x = _data()
    if impl == "numpy":
        def run():
            return (1.0 - np.tanh(w @ x) ** 2)[:, None] * w

        return run
    if impl in ("nbgrad", "nbgrad_dynamic"):
        import nbgrad
        import nbgrad.tensor as T

        if impl == "nbgrad":
            W = T.TensorType("float64", (N, N))("W")
            xv = T.TensorType("float64", (N,))("x")
        else:
            W, xv = T.dmatrix("W"), T.dvector("x")
        f = nbgrad.function([W, xv], T.jacobian(T.tanh(T.dot(W, xv)), xv))
        return lambda: f(w, x)
    if impl == "pytensor":
        try:
            import pytensor
            import pytensor.tensor as pt
        except ImportError:
            return None
        W, xv = pt.dmatrix("W"), pt.dvector("x")
        J = pytensor.gradient.jacobian(pt.tanh(pt.dot(W, xv)), xv, vectorize=True)
        f = pytensor.function([W, xv], J)
        return lambda: f(w, x)
    if impl == "jax":
        try:
            import jax
        except ImportError:
            return None
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        jac = jax.jit(jax.jacrev(lambda x, w: jnp.tanh(w @ x)))
        wj, xj = jnp.asarray(w), jnp.asarray(x)
        jac(xj, wj).block_until_ready()
        return lambda: jac(xj, wj).block_until_ready()
    if impl == "torch":
        try:
            import torch
            from torch.func import jacrev
        except ImportError:
            return None
        wt, xt = torch.from_numpy(w), torch.from_numpy(x)
        jac = jacrev(lambda x: torch.tanh(wt @ x))

        def run():
            with torch.no_grad():
                return jac(xt).numpy()

        return run
    return None
