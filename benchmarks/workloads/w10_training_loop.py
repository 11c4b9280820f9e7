"""W10: the Theano tutorial's logistic-regression training loop, as written.

Shared ``w`` and ``b``, a function returning the predictions and the per-example
cross-entropy that also assigns ``w - 0.1*gw`` and ``b - 0.1*gb``; 400 examples of 20
features; one iteration is 200 calls of the training function (the tutorial's loop).
Every implementation starts from the same parameters and returns them after the loop.
"""

import numpy as np

TITLE = "logistic-regression training loop (tutorial): 400x20, shared w, b, 200 calls with updates"
IMPLS = ["numpy", "nbgrad", "pytensor", "jax", "torch"]
N, FEATS, STEPS = 400, 20, 200
RTOL = 1e-6
ATOL = 1e-8


def _data():
    rng = np.random.RandomState(0)
    X = rng.randn(N, FEATS)
    Y = rng.randint(size=N, low=0, high=2).astype(np.float64)
    w0 = rng.randn(FEATS)
    return X, Y, w0


def tutorial_loop(lib, T, grad, **function_kwargs):
    """The tutorial's training function, written once against a Theano-style ``lib`` (nbgrad
    or PyTensor, with its tensor module ``T`` and ``grad``), and the loop of STEPS calls.

    Returns ``(train, loop)``; ``function_kwargs`` go to ``lib.function`` (a ``mode``).
    """
    X, Y, w0 = _data()
    x, y = T.dmatrix("x"), T.dvector("y")
    w = lib.shared(w0.copy(), name="w")
    b = lib.shared(0.0, name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    prediction = p_1 > 0.5
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = grad(cost, [w, b])
    train = lib.function([x, y], [prediction, xent], updates=((w, w - 0.1 * gw), (b, b - 0.1 * gb)),
                         **function_kwargs)

    def loop():
        w.set_value(w0.copy())
        b.set_value(0.0)
        for _ in range(STEPS):
            train(X, Y)
        return np.append(w.get_value(), b.get_value())

    return train, loop


def setup(impl):
    X, Y, w0 = _data()
    if impl == "numpy":
        def loop():
            w, b = w0.copy(), 0.0
            for _ in range(STEPS):
                p = 1 / (1 + np.exp(-(X @ w) - b))
                pred = p > 0.5  # noqa: F841 - returned by the tutorial's function
                xent = -Y * np.log(p) - (1 - Y) * np.log(1 - p)  # noqa: F841
                g = (p - Y) / N
                w, b = w - 0.1 * (X.T @ g + 0.02 * w), b - 0.1 * g.sum()
            return np.append(w, b)

        return loop
    if impl == "nbgrad":
        import nbgrad

        return tutorial_loop(nbgrad, nbgrad.tensor, nbgrad.grad)[1]
    if impl == "pytensor":
        try:
            import pytensor
            import pytensor.tensor as pt
        except ImportError:
            return None
        return tutorial_loop(pytensor, pt, pytensor.grad)[1]
    if impl == "jax":
        try:
            import jax
            import jax.numpy as jnp
        except ImportError:
            return None
        jax.config.update("jax_enable_x64", True)

        def cost(w, b, x, y):
            p = 1 / (1 + jnp.exp(-x @ w - b))
            xent = -y * jnp.log(p) - (1 - y) * jnp.log(1 - p)
            return xent.mean() + 0.01 * (w ** 2).sum(), (p > 0.5, xent)

        @jax.jit
        def train(w, b, x, y):
            (gw, gb), (pred, xent) = jax.grad(cost, argnums=(0, 1), has_aux=True)(w, b, x, y)
            return pred, xent, w - 0.1 * gw, b - 0.1 * gb

        xj, yj = jnp.asarray(X), jnp.asarray(Y)
        train(jnp.asarray(w0), jnp.asarray(0.0), xj, yj)  # compile

        def loop():
            w, b = jnp.asarray(w0), jnp.asarray(0.0)
            for _ in range(STEPS):
                _, _, w, b = train(w, b, xj, yj)
            return np.append(np.asarray(w), np.asarray(b))

        return loop
    if impl == "torch":
        try:
            import torch
        except ImportError:
            return None
        xt, yt = torch.from_numpy(X), torch.from_numpy(Y)

        def loop():
            w = torch.tensor(w0, requires_grad=True)
            b = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
            for _ in range(STEPS):
                p = 1 / (1 + torch.exp(-xt @ w - b))
                pred = p > 0.5  # noqa: F841
                xent = -yt * torch.log(p) - (1 - yt) * torch.log(1 - p)
                cost = xent.mean() + 0.01 * (w ** 2).sum()
                gw, gb = torch.autograd.grad(cost, [w, b])
                with torch.no_grad():
                    w = (w - 0.1 * gw).requires_grad_()
                    b = (b - 0.1 * gb).requires_grad_()
            return np.append(w.detach().numpy(), b.detach().numpy())

        return loop
    return None
