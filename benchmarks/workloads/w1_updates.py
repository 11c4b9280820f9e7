"""W1 with updates: per-call overhead of a function that also assigns two shared variables.

Separates what a call with updates costs beyond W1 (holding the shared variables' locks,
assigning the new values) from the arithmetic, which stays that of W1.
"""

import numpy as np

TITLE = "call overhead with updates: x*2 + 1 on a 10-vector, W <- x*2, b <- x + 1"
IMPLS = ["numpy", "nbgrad", "pytensor"]

X = np.linspace(-1.0, 1.0, 10)


def setup(impl):
    if impl == "numpy":
        state = {"W": np.zeros(10), "b": np.zeros(10)}

        def step():
            state["W"], state["b"] = X * 2, X + 1
            return X * 2 + 1

        return step
    if impl == "nbgrad":
        import nbgrad
        import nbgrad.tensor as T

        x = T.dvector("x")
        W, b = nbgrad.shared(np.zeros(10), name="W"), nbgrad.shared(np.zeros(10), name="b")
        f = nbgrad.function([x], x * 2 + 1, updates=[(W, x * 2), (b, x + 1)])
        return lambda: f(X)
    if impl == "pytensor":
        try:
            import pytensor
            import pytensor.tensor as pt
        except ImportError:
            return None
        x = pt.dvector("x")
        W, b = pytensor.shared(np.zeros(10), name="W"), pytensor.shared(np.zeros(10), name="b")
        f = pytensor.function([x], x * 2 + 1, updates=[(W, x * 2), (b, x + 1)], mode="FAST_RUN")
        return lambda: f(X)
    return None
