"""W7: build and compile a chain of 2000 elementwise operations."""

import numpy as np

TITLE = "build + compile a chain of 2000 elementwise ops (cold: no compile cache)"
IMPLS = ["nbgrad", "nbgrad (cached)", "pytensor", "jax"]
REPEAT = 3
LENGTH = 2000
X = np.linspace(-1.0, 1.0, 16)


def _chain(x, tanh):
    y = x
    for _ in range(LENGTH // 4):
        y = tanh(y * 1.001 + 0.01) - 0.005
    return y


def setup(impl):
    if impl in ("nbgrad", "nbgrad (cached)"):
        import nbgrad
        import nbgrad.tensor as T
        from nbgrad.rewriting import cache

        def build():
            cache.enabled = impl != "nbgrad"
            try:
                x = T.dvector("x")
                f = nbgrad.function([x], _chain(x, T.tanh))
            finally:
                cache.enabled = True
            return f(X)

        return build
    if impl == "pytensor":
        try:
            import pytensor
            import pytensor.tensor as pt
        except ImportError:
            return None
        import sys

        sys.setrecursionlimit(max(sys.getrecursionlimit(), 20000))

        def build():
            x = pt.dvector("x")
            f = pytensor.function([x], _chain(x, pt.tanh), mode="FAST_RUN")
            return f(X)

        return build
    if impl == "jax":
        try:
            import jax
            import jax.numpy as jnp
        except ImportError:
            return None
        jax.config.update("jax_enable_x64", True)

        def build():
            f = jax.jit(lambda x: _chain(x, jnp.tanh)).lower(X).compile()
            return np.asarray(f(X))

        return build
    return None
