"""W15: d2l's MLP-from-scratch training step, eager and traced, next to PyTorch eager.

8 SGD steps (784-256-10, ReLU, mean cross-entropy, batch 256, float32) from the same
parameters. ``nbgrad`` runs the PyTorch code on ``nbgrad.eager``; ``nbgrad-trace`` traces
that code's loss once with ``ne.trace`` (data and parameters as the traced inputs) and
compiles one step from the traced graph: the gradient by ``T.grad``, the parameters as
shared variables substituted for their inputs with ``givens``, the SGD update as
``updates``. ``torch`` is the same code on PyTorch.
"""

import numpy as np

from benchmarks.workloads import w13_d2l_eager as _d2l

TITLE = "MLP training step (784-256-10, batch 256, 8 steps): eager, traced and compiled, torch eager"
IMPLS = ["nbgrad", "nbgrad-trace", "torch"]
RTOL = 1e-4
ATOL = 1e-5
LR = 0.1


def setup(impl):
    _, _, _, images, labels, W1, W2, _ = _d2l._data()
    batches = [(images[k:k + 256], labels[k:k + 256]) for k in range(0, len(images), 256)]
    if impl == "torch":
        try:
            import torch as lib
        except ImportError:
            return None
    else:
        import nbgrad.eager as lib
    loss_fn = lib.nn.CrossEntropyLoss(reduction="none")

    def cost(X, y, W1, b1, W2, b2):
        return loss_fn(_d2l.mlp_net(lib, [W1, b1, W2, b2], X), y).mean()

    if impl == "nbgrad-trace":
        import nbgrad
        import nbgrad.tensor as T

        params = _d2l.mlp_params(lib, W1, W2)
        traced = lib.trace(cost, lib.tensor(batches[0][0]), lib.tensor(batches[0][1]), *params)
        shared = [nbgrad.shared(p.detach().numpy().copy()) for p in params]
        grads = T.grad(traced.output, traced.inputs[2:])
        step = nbgrad.function(traced.inputs[:2], traced.output, givens=list(zip(traced.inputs[2:], shared)),
                               updates=[(s, s - LR * g) for s, g in zip(shared, grads)])
        start = [p.detach().numpy().copy() for p in params]

        def loop():
            for s, v in zip(shared, start):
                s.set_value(v.copy())
            for X, y in batches:
                step(X, y)
            return np.concatenate([s.get_value().ravel() for s in shared])

        return loop
    data = [(lib.tensor(X), lib.tensor(y)) for X, y in batches]

    def loop():
        params = _d2l.mlp_params(lib, W1, W2)
        updater = lib.optim.SGD(params, lr=LR)
        for X, y in data:
            loss = cost(X, y, *params)
            updater.zero_grad()
            loss.backward()
            updater.step()
        return np.concatenate([p.detach().numpy().ravel() for p in params])

    return loop
