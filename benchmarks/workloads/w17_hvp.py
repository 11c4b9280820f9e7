"""W17: a Hessian-vector product by reverse over reverse, ``grad(sum(grad(loss) * v))``.

The loss is W16's small MLP (421 flat parameters, 64 examples); ``v`` is a fixed random
vector. Every row differentiates twice in reverse mode: nbgrad and PyTensor ``grad`` of
``sum(g * v)``, JAX ``jax.grad`` of ``vdot(jax.grad(loss), v)`` under ``jax.jit``,
PyTorch a double backward (``create_graph=True``). Rows ``nbgrad`` (static sizes) and
``nbgrad_dynamic`` as in W16.
"""

import importlib.util
import pathlib

_spec = importlib.util.spec_from_file_location(
    "w16_mlp_hessian", pathlib.Path(__file__).with_name("w16_mlp_hessian.py"))
w16 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(w16)

TITLE = "Hessian-vector product, reverse over reverse: grad(sum(grad(loss) * v)), W16's MLP"
IMPLS = ["jax", "nbgrad", "nbgrad_dynamic", "pytensor", "torch"]
RTOL = 1e-7
ATOL = 1e-10


def setup(impl):
    theta, X, y, v = w16.data()
    loss = w16.loss
    if impl in ("nbgrad", "nbgrad_dynamic"):
        import nbgrad
        import nbgrad.tensor as T

        th, x, t, vv = w16.nbgrad_inputs(impl == "nbgrad")
        g = T.grad(loss(th, x, t, T.tanh), th)
        f = nbgrad.function([th, x, t, vv], T.grad((g * vv).sum(), th))
        return lambda: f(theta, X, y, v)
    if impl == "pytensor":
        try:
            import pytensor
            import pytensor.tensor as pt
        except ImportError:
            return None
        th, x, t, vv = pt.dvector("theta"), pt.dmatrix("X"), pt.dvector("y"), pt.dvector("v")
        g = pytensor.grad(loss(th, x, t, pt.tanh), th)
        f = pytensor.function([th, x, t, vv], pytensor.grad((g * vv).sum(), th))
        return lambda: f(theta, X, y, v)
    if impl == "jax":
        try:
            import jax
        except ImportError:
            return None
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        def hvp(th, x, t, vv):
            g = jax.grad(lambda th: loss(th, x, t, jnp.tanh))
            return jax.grad(lambda th: jnp.vdot(g(th), vv))(th)

        hvp = jax.jit(hvp)
        args = [jnp.asarray(a) for a in (theta, X, y, v)]
        hvp(*args).block_until_ready()
        return lambda: hvp(*args).block_until_ready()
    if impl == "torch":
        try:
            import torch
        except ImportError:
            return None
        xt, yt, vt = (torch.from_numpy(a) for a in (X, y, v))

        def run():
            th = torch.tensor(theta, requires_grad=True)
            (g,) = torch.autograd.grad(loss(th, xt, yt, torch.tanh), th, create_graph=True)
            (hv,) = torch.autograd.grad((g * vt).sum(), th)
            return hv.numpy()

        return run
    return None

