"""W13: d2l's from-scratch training loops, PyTorch code run on nbgrad.eager and on torch.

The same function body runs with ``lib = nbgrad.eager`` and ``lib = torch``: d2l's
linear regression from scratch (1000 examples of 2 features, minibatches of 10, hand-written
``sgd`` under ``no_grad``, one epoch) followed by its MLP from scratch (784-256-10 with ReLU,
cross-entropy, ``optim.SGD``, 8 minibatches of 256). Data and initial parameters come from
NumPy so both libraries compute the same numbers; the result is the trained parameters.
``nbgrad-trace`` runs the MLP step through ``nbgrad.eager.trace`` (one compiled step).
"""

import numpy as np

TITLE = "d2l from-scratch loops on the PyTorch API: linear regression (batch 10) + MLP (batch 256)"
IMPLS = ["nbgrad", "torch"]
RTOL = 1e-4
ATOL = 1e-5


def _data():
    rng = np.random.RandomState(0)
    true_w, true_b = np.array([2.0, -3.4], np.float32), 4.2
    X = rng.normal(0, 1, (1000, 2)).astype(np.float32)
    y = (X @ true_w + true_b + rng.normal(0, 0.01, 1000)).astype(np.float32).reshape(-1, 1)
    order = rng.permutation(1000)
    images = rng.rand(8 * 256, 784).astype(np.float32)
    labels = rng.randint(0, 10, 8 * 256)
    W1 = (rng.randn(784, 256) * 0.01).astype(np.float32)
    W2 = (rng.randn(256, 10) * 0.01).astype(np.float32)
    w0 = rng.normal(0, 0.01, (2, 1)).astype(np.float32)
    return X, y, order, images, labels, W1, W2, w0


def linreg_epoch(lib, X, y, order, w0, lr=0.03, batch_size=10):
    """d2l 3.2, one epoch, as the book writes it."""
    features, labels = lib.tensor(X), lib.tensor(y)
    w = lib.tensor(w0, requires_grad=True)
    b = lib.zeros(1, requires_grad=True)
    for i in range(0, 1000, batch_size):
        idx = lib.tensor(order[i:i + batch_size])
        Xb, yb = features[idx], labels[idx]
        y_hat = lib.matmul(Xb, w) + b
        loss = (y_hat - yb.reshape(y_hat.shape)) ** 2 / 2
        loss.sum().backward()
        with lib.no_grad():
            for param in (w, b):
                param -= lr * param.grad / batch_size
                param.grad.zero_()
    return w, b


def mlp_params(lib, W1, W2):
    return [lib.tensor(W1, requires_grad=True), lib.zeros(256, requires_grad=True),
            lib.tensor(W2, requires_grad=True), lib.zeros(10, requires_grad=True)]


def mlp_net(lib, params, X):
    W1, b1, W2, b2 = params
    X = X.reshape((-1, 784))
    H = lib.max(X @ W1 + b1, lib.zeros_like(X @ W1 + b1))  # d2l's relu via torch.max
    return H @ W2 + b2


def setup(impl):
    X, y, order, images, labels, W1, W2, w0 = _data()
    if impl in ("nbgrad", "nbgrad-trace"):
        import nbgrad.eager as lib
    else:
        try:
            import torch as lib
        except ImportError:
            return None
    loss_fn = lib.nn.CrossEntropyLoss(reduction="none")
    batches = [(lib.tensor(images[k:k + 256]), lib.tensor(labels[k:k + 256])) for k in range(0, len(images), 256)]

    def step_fn(params, updater):
        def step(Xb, yb):
            loss = loss_fn(mlp_net(lib, params, Xb), yb)
            updater.zero_grad()
            loss.mean().backward()
            updater.step()
            return loss
        return step

    def loop():
        w, b = linreg_epoch(lib, X, y, order, w0)
        params = mlp_params(lib, W1, W2)
        updater = lib.optim.SGD(params, lr=0.1)
        step = step_fn(params, updater)
        if impl == "nbgrad-trace":
            step = lib.trace(step)
        for Xb, yb in batches:
            step(Xb, yb)
        return np.concatenate([w.detach().numpy().ravel(), b.detach().numpy().ravel()]
                              + [p.detach().numpy().ravel() for p in params])

    return loop
