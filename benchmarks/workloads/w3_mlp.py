"""W3: one SGD step of a 784-512-512-10 tanh MLP with softmax cross-entropy (batch 256, float32).

Every implementation does the same step: forward pass, mean cross-entropy of
the logits against integer labels, gradients of all six parameters, and the
update ``p -= lr * g``; the callable returns the loss. ``nbgrad`` uses
``nbgrad.nn`` (``Sequential``, ``cross_entropy``, ``SGD``) and the training
function that ``Learner`` compiles (layer parameters of fixed shape); ``nbgrad_dynamic`` is
the same step as course code writes it: ``T.fmatrix``/``T.lvector`` inputs and shared
weights and biases of unknown static shape, ``updates`` given by hand.

Running this file directly (``python benchmarks/workloads/w3_mlp.py``) also
prints the per-call overhead of ``nbgrad.eager`` next to PyTorch and NumPy.
"""

import numpy as np

TITLE = "SGD step, 784-512-512-10 tanh MLP, softmax cross-entropy, batch 256, float32"
IMPLS = ["numpy", "nbgrad", "nbgrad_dynamic", "pytensor", "jax", "torch"]

SIZES = (784, 512, 512, 10)
BATCH = 256
LR = 0.01


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], BATCH).astype(np.int64)
    params = []
    for n_in, n_out in zip(SIZES[:-1], SIZES[1:]):
        params.append((rng.standard_normal((n_in, n_out)) * np.sqrt(1.0 / n_in)).astype(np.float32))
        params.append(np.zeros(n_out, dtype=np.float32))
    return x, y, params


def _numpy_step(x, y, params):
    w1, b1, w2, b2, w3, b3 = params
    h1 = np.tanh(x @ w1 + b1)
    h2 = np.tanh(h1 @ w2 + b2)
    z = h2 @ w3 + b3
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    n = len(x)
    loss = np.mean(np.log(s[:, 0]) - z[np.arange(n), y])
    dz = e / s
    dz[np.arange(n), y] -= 1
    dz /= n
    dh2 = (dz @ w3.T) * (1 - h2 * h2)
    dh1 = (dh2 @ w2.T) * (1 - h1 * h1)
    grads = [x.T @ dh1, dh1.sum(0), h1.T @ dh2, dh2.sum(0), h2.T @ dz, dz.sum(0)]
    for p, g in zip(params, grads):
        p -= LR * g
    return loss


def nbgrad_step(x, y, params):
    """The training function ``nbgrad.nn``'s Learner compiles, with ``params`` as weights."""
    from nbgrad.nn import SGD, Learner, Linear, Sequential, Tanh, cross_entropy

    layers = [Linear(a, b, dtype="float32") for a, b in zip(SIZES[:-1], SIZES[1:])]
    for layer, (w, b) in zip(layers, zip(params[::2], params[1::2])):
        layer.weights.set_value(w)
        layer.bias.set_value(b)
    model = Sequential(layers[0], Tanh(), layers[1], Tanh(), layers[2])
    return Learner(model, cross_entropy, SGD(lr=LR)).train_function(x, y)


def jax_step(jax):
    """A jitted ``step(params, X, Y) -> (new params, loss)``."""
    jnp = jax.numpy

    def loss_fn(ps, X, Y):
        h = X
        for k in range(0, 6, 2):
            h = h @ ps[k] + ps[k + 1]
            if k < 4:
                h = jnp.tanh(h)
        logp = jax.nn.log_softmax(h, axis=-1)
        return -jnp.mean(jnp.take_along_axis(logp, Y[:, None], axis=1))

    @jax.jit
    def step(ps, X, Y):
        loss, gs = jax.value_and_grad(loss_fn)(ps, X, Y)
        return [p - LR * g for p, g in zip(ps, gs)], loss

    return step


def torch_step(torch, xt, yt, ps):
    """One step on the tensors ``ps`` in place; returns the loss tensor."""
    h = xt
    for k in range(0, 6, 2):
        h = h @ ps[k] + ps[k + 1]
        if k < 4:
            h = torch.tanh(h)
    loss = torch.nn.functional.cross_entropy(h, yt)
    gs = torch.autograd.grad(loss, ps)
    with torch.no_grad():
        for p, g in zip(ps, gs):
            p -= LR * g
    return loss


def setup(impl):
    x, y, params = _data()
    if impl == "numpy":
        return lambda: _numpy_step(x, y, params)
    if impl == "nbgrad":
        step = nbgrad_step(x, y, params)
        return lambda: step(x, y)
    if impl == "nbgrad_dynamic":
        import nbgrad
        import nbgrad.tensor as T

        X, Y = T.fmatrix("X"), T.lvector("Y")
        ps = [nbgrad.shared(p.copy()) for p in params]
        h = X
        for k in range(0, 6, 2):
            h = T.dot(h, ps[k]) + ps[k + 1]
            if k < 4:
                h = T.tanh(h)
        loss = -T.mean(T.nnet.log_softmax(h)[T.arange(Y.shape[0]), Y])
        gs = T.grad(loss, ps)
        f = nbgrad.function([X, Y], loss, updates=[(p, p - np.float32(LR) * g) for p, g in zip(ps, gs)])
        return lambda: f(x, y)
    if impl == "pytensor":
        try:
            import pytensor
            import pytensor.tensor as pt
        except ImportError:
            return None
        X, Y = pt.matrix("X", dtype="float32"), pt.vector("Y", dtype="int64")
        ps = [pytensor.shared(p.copy()) for p in params]
        h = X
        for k in range(0, 6, 2):
            h = pt.dot(h, ps[k]) + ps[k + 1]
            if k < 4:
                h = pt.tanh(h)
        logp = pt.special.log_softmax(h, axis=-1)
        loss = -pt.mean(logp[pt.arange(Y.shape[0]), Y])
        gs = pytensor.grad(loss, ps)
        f = pytensor.function([X, Y], loss, updates=[(p, p - np.float32(LR) * g) for p, g in zip(ps, gs)])
        return lambda: f(x, y)
    if impl == "jax":
        try:
            import jax
            import jax.numpy as jnp
        except ImportError:
            return None

        step = jax_step(jax)
        state = [[jnp.asarray(p) for p in params]]
        xj, yj = jnp.asarray(x), jnp.asarray(y)

        def run():
            state[0], loss = step(state[0], xj, yj)
            return loss.block_until_ready()

        step(state[0], xj, yj)[1].block_until_ready()  # compile; the state is not advanced
        return run
    if impl == "torch":
        try:
            import torch
        except ImportError:
            return None
        ps = [torch.tensor(p, requires_grad=True) for p in params]
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)

        def run():
            return torch_step(torch, xt, yt, ps).detach().numpy()

        return run
    return None


def _eager_overhead():
    import timeit

    import nbgrad.eager as ne

    rows = []
    a = np.array(1.0)
    s, r = ne.tensor(1.0), ne.tensor(1.0, requires_grad=True)

    def eager_step():
        (r * r + r).backward()

    rows.append(("numpy a + a (0-d)", lambda: a + a))
    rows.append(("nbgrad.eager x + x, no grad", lambda: s + s))
    rows.append(("nbgrad.eager x + x, recorded", lambda: r + r))
    rows.append(("nbgrad.eager (x*x + x).backward()", eager_step))
    try:
        import torch

        ts, tr = torch.tensor(1.0), torch.tensor(1.0, requires_grad=True)

        def torch_step():
            (tr * tr + tr).backward()

        rows.append(("torch x + x, no grad", lambda: ts + ts))
        rows.append(("torch x + x, recorded", lambda: tr + tr))
        rows.append(("torch (x*x + x).backward()", torch_step))
    except ImportError:
        pass
    for name, fn in rows:
        n = 20000
        best = min(timeit.repeat(fn, number=n, repeat=5)) / n
        print(f"{name:40s} {best * 1e6:8.2f} us")


if __name__ == "__main__":
    import timeit

    results = {}
    for impl in IMPLS:
        fn = setup(impl)
        if fn is None:
            print(f"{impl:10s} not available")
            continue
        fn()
        n = 10
        results[impl] = min(timeit.repeat(fn, number=n, repeat=5)) / n
    best = min(results.values())
    for impl, t in results.items():
        print(f"{impl:10s} {t * 1e3:8.2f} ms  {t / best:5.2f}x of fastest")
    _eager_overhead()
