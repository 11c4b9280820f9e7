"""W12: one SGD step of LeNet-5 on 28×28 images (batch 64, float32), as course code writes it.

The network: conv 6@5×5 → 2×2 max pool → tanh, conv 16@5×5 → 2×2 max pool → tanh,
dense 256→120 tanh, 120→84 tanh, 84→10, mean softmax cross-entropy against integer labels.
Each call does the forward pass, the gradients of all ten parameters and the update
``p -= lr * g``, and returns the loss. ``nbgrad`` and PyTensor take Theano's ``conv2d``
(filters flipped, a true convolution) and ``pool_2d`` with shared parameters and
``updates`` (row ``nbgrad`` passes ``filter_shape``, row ``nbgrad_dynamic`` does not);
PyTorch is given the flipped filters, since its ``conv2d`` is a
cross-correlation, so that every implementation computes the same loss. PyTensor 3 no
longer ships ``conv2d`` or ``pool_2d`` (only 1-D/2-D signal convolution of single
arrays), so its row reads "not available" there.
"""

import numpy as np

TITLE = "SGD step, LeNet-5 (conv5-pool-conv5-pool-120-84-10, tanh), batch 64, 28x28, float32"
IMPLS = ["nbgrad", "nbgrad_dynamic", "pytensor", "torch"]

BATCH = 64
LR = 0.01
CONV = [(6, 1, 5, 5), (16, 6, 5, 5)]
DENSE = [(16 * 4 * 4, 120), (120, 84), (84, 10)]
# float32 convolutions and sums in different orders
RTOL = 1e-4
ATOL = 1e-5


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, BATCH).astype(np.int64)
    params = []
    for shape in CONV:
        fan_in = np.prod(shape[1:])
        params.append((rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32))
        params.append(np.zeros(shape[0], dtype=np.float32))
    for n_in, n_out in DENSE:
        params.append((rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(np.float32))
        params.append(np.zeros(n_out, dtype=np.float32))
    return x, y, params


def _theano_style_step(lib, T, conv2d, pool_2d, x, y, params, static=True):
    """The step written once against a Theano-compatible API (nbgrad or PyTensor).

    ``static=False``: ``conv2d`` is not told the filter shape, as course code often leaves it.
    """
    X, Y = T.tensor4("X", dtype="float32"), T.vector("Y", dtype="int64")
    ps = [lib.shared(p.copy()) for p in params]
    h = X
    for k, shape in enumerate(CONV):
        w, b = ps[2 * k], ps[2 * k + 1]
        h = conv2d(h, w, filter_shape=shape) if static else conv2d(h, w)
        h = T.tanh(pool_2d(h, ws=(2, 2), ignore_border=True) + b.dimshuffle("x", 0, "x", "x"))
    h = h.flatten(2)
    for k in range(len(DENSE)):
        w, b = ps[4 + 2 * k], ps[5 + 2 * k]
        h = T.dot(h, w) + b
        if k < len(DENSE) - 1:
            h = T.tanh(h)
    z = h - h.max(axis=1, keepdims=True)
    logp = z - T.log(T.exp(z).sum(axis=1, keepdims=True))
    loss = -T.mean(logp[T.arange(Y.shape[0]), Y])
    gs = lib.grad(loss, ps)
    f = lib.function([X, Y], loss, updates=[(p, p - np.float32(LR) * g) for p, g in zip(ps, gs)])
    return lambda: f(x, y)


def setup(impl):
    x, y, params = _data()
    if impl in ("nbgrad", "nbgrad_dynamic"):
        import nbgrad
        import nbgrad.tensor as T
        from nbgrad.tensor.nnet import conv2d
        from nbgrad.tensor.signal.pool import pool_2d

        return _theano_style_step(nbgrad, T, conv2d, pool_2d, x, y, params, static=impl == "nbgrad")
    if impl == "pytensor":
        try:
            import pytensor
            import pytensor.tensor as pt
            from pytensor.tensor.conv import conv2d
            from pytensor.tensor.signal.pool import pool_2d
        except ImportError:
            return None
        return _theano_style_step(pytensor, pt, conv2d, pool_2d, x, y, params)
    if impl == "torch":
        try:
            import torch
        except ImportError:
            return None
        F = torch.nn.functional
        flipped = [p[:, :, ::-1, ::-1] if p.ndim == 4 else p for p in params]
        ps = [torch.tensor(np.ascontiguousarray(p), requires_grad=True) for p in flipped]
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)

        def run():
            h = xt
            for k in range(len(CONV)):
                h = torch.tanh(F.max_pool2d(F.conv2d(h, ps[2 * k]), 2) + ps[2 * k + 1][None, :, None, None])
            h = h.flatten(1)
            for k in range(len(DENSE)):
                h = h @ ps[4 + 2 * k] + ps[5 + 2 * k]
                if k < len(DENSE) - 1:
                    h = torch.tanh(h)
            loss = F.cross_entropy(h, yt)
            gs = torch.autograd.grad(loss, ps)
            with torch.no_grad():
                for p, g in zip(ps, gs):
                    p -= LR * g
            return loss.detach().numpy()

        return run
    return None


if __name__ == "__main__":
    import timeit

    for impl in IMPLS:
        fn = setup(impl)
        if fn is None:
            print(f"{impl:10s} not available")
            continue
        print(f"{impl:10s} loss {float(fn()):.6f}")
        n = 5
        t = min(timeit.repeat(fn, number=n, repeat=3)) / n
        print(f"{impl:10s} {t * 1e3:8.2f} ms")
