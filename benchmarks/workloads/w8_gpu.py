"""W8: W2 and W3 on the GPU (nbgrad's CuPy backend beside CuPy, PyTorch CUDA and JAX GPU).

Two groups of implementations, selected by prefix:

- ``w2-*``: ``y = tanh(x)*exp(-x**2) + 1/(1+exp(-x))`` on 100M float32 values that
  already live on the device; ``w2-bandwidth`` is one device copy of ``x``
  (one read, one write), the lower bound a fused kernel can reach.
- ``w3-*``: one SGD step of W3's MLP (784-512-512-10, batch 256, float32) with
  data and parameters on the device.

Every callable waits for the device to finish, so the times are the work done.
Each ``setup`` returns None where the package or a CUDA device is missing.
"""

import numpy as np

TITLE = "GPU: W2 fused elementwise (100M float32) and W3 MLP SGD step (float32)"
IMPLS = ["w2-bandwidth", "w2-cupy", "w2-nbgrad", "w2-torch", "w2-jax",
         "w3-nbgrad", "w3-torch", "w3-jax"]
UNCHECKED = ("w2-bandwidth",)
# W2 results (arrays) and W3 results (losses) are not comparable with each other
CHECK = False
RTOL = 1e-4

N = 100_000_000


def _cupy():
    try:
        from nbgrad.backends import BackendUnavailable, get_backend

        return get_backend("gpu")
    except BackendUnavailable:
        return None


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def _jax():
    try:
        import jax
    except ImportError:
        return None
    try:
        return jax if jax.devices("gpu") else None
    except RuntimeError:
        return None


def _host_x():
    return np.random.default_rng(0).standard_normal(N, dtype=np.float32)


def _result(value):
    """A host copy for the runner's cross-check."""
    get = getattr(value, "get", None)
    if get is not None:
        return get()
    if hasattr(value, "cpu"):
        return value.cpu().numpy()
    return np.asarray(value)


def _w2(impl):
    if impl in ("w2-bandwidth", "w2-cupy", "w2-nbgrad"):
        backend = _cupy()
        if backend is None:
            return None
        cp = backend.xp
        x = cp.asarray(_host_x())
        sync = backend.synchronize
        if impl == "w2-bandwidth":
            def run():
                cp.copy(x)
                sync()
            return run
        if impl == "w2-cupy":
            def run():
                y = cp.tanh(x) * cp.exp(-x ** 2) + 1 / (1 + cp.exp(-x))
                sync()
                return _result(y[:1000])
            return run
        import nbgrad
        import nbgrad.tensor as T

        xv = T.fvector("x")
        f = nbgrad.function([xv], T.tanh(xv) * T.exp(-xv ** 2) + 1 / (1 + T.exp(-xv)), backend="gpu")

        def run():
            y = f(x)
            sync()
            return _result(y[:1000])
        return run
    if impl == "w2-torch":
        torch = _torch()
        if torch is None:
            return None
        x = torch.from_numpy(_host_x()).cuda()

        def run():
            y = torch.tanh(x) * torch.exp(-x ** 2) + 1 / (1 + torch.exp(-x))
            torch.cuda.synchronize()
            return _result(y[:1000])
        return run
    if impl == "w2-jax":
        jax = _jax()
        if jax is None:
            return None
        import jax.numpy as jnp

        f = jax.jit(lambda x: jnp.tanh(x) * jnp.exp(-x ** 2) + 1 / (1 + jnp.exp(-x)))
        x = jax.device_put(_host_x(), jax.devices("gpu")[0])
        return lambda: np.asarray(f(x).block_until_ready()[:1000])
    return None


def _w3(impl):
    from benchmarks.workloads import w3_mlp

    x, y, params = w3_mlp._data()
    if impl == "w3-nbgrad":
        backend = _cupy()
        if backend is None:
            return None
        cp = backend.xp
        import nbgrad

        old = nbgrad.config.backend
        nbgrad.config.backend = "gpu"
        try:
            step = w3_mlp.nbgrad_step(x, y, params)
        finally:
            nbgrad.config.backend = old
        xd, yd = cp.asarray(x), cp.asarray(y)

        def run():
            loss = step(xd, yd)
            backend.synchronize()
            return _result(loss)
        return run
    if impl == "w3-torch":
        torch = _torch()
        if torch is None:
            return None
        dev = torch.device("cuda")
        xt, yt = torch.from_numpy(x).to(dev), torch.from_numpy(y).to(dev)
        ps = [torch.from_numpy(p.copy()).to(dev).requires_grad_() for p in params]

        def run():
            loss = w3_mlp.torch_step(torch, xt, yt, ps)
            torch.cuda.synchronize()
            return loss.item()
        return run
    if impl == "w3-jax":
        jax = _jax()
        if jax is None:
            return None
        step = w3_mlp.jax_step(jax)

        gpu = jax.devices("gpu")[0]
        state = {"ps": [jax.device_put(p, gpu) for p in params]}
        xj, yj = jax.device_put(x, gpu), jax.device_put(y.astype(np.int32), gpu)

        def run():
            state["ps"], loss = step(state["ps"], xj, yj)
            return float(loss.block_until_ready())
        return run
    return None


def setup(impl):
    """A zero-argument callable running ``impl`` once, or None where it cannot run here."""
    if impl.startswith("w2-"):
        return _w2(impl)
    if impl.startswith("w3-"):
        return _w3(impl)
    return None
