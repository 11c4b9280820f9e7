"""``torch.autograd.functional``: Jacobians, Hessians, VJPs and JVPs of Python functions.

Each takes a function of tensors and the point (a tensor or a tuple of
tensors) and runs the tape: a Jacobian is one reverse pass per output
element over one recorded forward (``retain_graph``), a Hessian the Jacobian
of the gradient (``create_graph``), a JVP the derivative of a VJP with
respect to its (linear) cotangent. For one compiled, vectorized Jacobian of
a whole function, trace it (``nbgrad.eager.trace``) and use
``nbgrad.gradient.jacobian`` on the traced graph.

>>> import nbgrad.eager as torch
>>> from nbgrad.eager.autograd.functional import jacobian, hessian
>>> jacobian(lambda x: x ** 2, torch.tensor([1.0, 2.0]))
tensor([[2., 0.],
        [0., 4.]])
>>> hessian(lambda x: (x ** 3).sum(), torch.tensor([1.0, 2.0]))
tensor([[ 6.,  0.],
        [ 0., 12.]])
"""

from nbgrad.eager import tape as _tape
from nbgrad.eager.functions import _wrap, zeros_like
from nbgrad.eager.tensor import Tensor, _seed
from nbgrad.eager.torchlike import stack

__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]


def _as_tuple(x, what):
    single = isinstance(x, Tensor)
    xs = (x,) if single else tuple(x)
    for k, t in enumerate(xs):
        if not isinstance(t, Tensor):
            raise TypeError(f"The {what} given to a functional autograd function must be a Tensor "
                            f"or a tuple of Tensors, but {what} {k} is {type(t).__name__}")
    return single, xs


def _prepare(inputs, create_graph):
    """Fresh leaves (or, with create_graph, differentiable views) requiring a gradient."""
    out = []
    for x in inputs:
        if create_graph and x.requires_grad:
            out.append(x.clone())  # still connected to the graph of ``x``
        else:
            out.append(x.detach().requires_grad_(x.dtype.kind in "fc"))
    return tuple(out)


def _grads(outs, ins, seeds, create_graph, retain_graph=True):
    """Gradients of ``outs`` seeded by ``seeds`` w.r.t. ``ins`` (zeros where unused)."""
    roots, used = [], []
    for o, s in zip(outs, seeds):
        if o.requires_grad:
            roots.append(o)
            used.append(s)
    if not roots:
        return [zeros_like(x) for x in ins]
    if create_graph:
        used = [s if isinstance(s, Tensor) else _wrap(s) for s in used]
        with _tape.enable_grad():
            res = _tape.run_backward(roots, used, retain_graph, True, capture=list(ins), wrap=_wrap)
    else:
        res = _tape.run_backward(roots, [s._data if isinstance(s, Tensor) else s for s in used],
                                 retain_graph, False, capture=list(ins), wrap=_wrap)
    return [zeros_like(x) if g is None else (g if isinstance(g, Tensor) else _wrap(g))
            for g, x in zip(res, ins)]


def _call(func, ins, create_graph):
    with _tape.enable_grad():
        out = func(*ins)
    single = isinstance(out, Tensor)
    outs = (out,) if single else tuple(out)
    for k, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise TypeError(f"The outputs of the user-provided function given to a functional "
                            f"autograd function must be Tensors, but output {k} is "
                            f"{type(o).__name__}")
    return single, outs


def _detached(outs, create_graph):
    return tuple(o if create_graph else o.detach() for o in outs)


def _pack(single, xs):
    return xs[0] if single else tuple(xs)


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T J)``: the outputs and the vector-Jacobian product at ``inputs``.

    ``v`` has the outputs' shapes (it may be omitted for a single scalar output).

    >>> import nbgrad.eager as torch
    >>> out, g = torch.autograd.functional.vjp(lambda x: 3 * x, torch.ones(2), torch.tensor([1.0, 2.0]))
    >>> g
    tensor([3., 6.])
    """
    single_in, xs = _as_tuple(inputs, "inputs")
    ins = _prepare(xs, create_graph)
    single_out, outs = _call(func, ins, create_graph)
    if v is None:
        if len(outs) != 1 or outs[0]._data.size != 1:
            raise RuntimeError("The vector v can only be None if the user-provided function "
                               "returns a single Tensor with a single element.")
        vs = (outs[0]._xp().ones(outs[0].shape, dtype=outs[0].dtype),)
    else:
        _, vs = _as_tuple(v, "v")
        if len(vs) != len(outs):
            raise RuntimeError(f"v has {len(vs)} tensors but the function has {len(outs)} outputs")
        vs = tuple(vv if create_graph else _seed(vv, o) for vv, o in zip(vs, outs))
    grads = _grads(outs, ins, vs, create_graph, retain_graph=create_graph)
    return _pack(single_out, _detached(outs, create_graph)), _pack(single_in, grads)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), J v)``: the outputs and the Jacobian-vector product at ``inputs``.

    Computed by differentiating the vector-Jacobian product u -> u^T J (linear
    in u) with respect to u, in the direction ``v``.

    >>> import nbgrad.eager as torch
    >>> out, t = torch.autograd.functional.jvp(lambda x: x ** 2, torch.tensor([1.0, 2.0]),
    ...                                        torch.tensor([1.0, 1.0]))
    >>> t
    tensor([2., 4.])
    """
    single_in, xs = _as_tuple(inputs, "inputs")
    ins = _prepare(xs, create_graph)
    if v is None:
        if len(ins) != 1 or ins[0]._data.size != 1:
            raise RuntimeError("The vector v can only be None if the input to the user-provided "
                               "function is a single Tensor with a single element.")
        vs = (ins[0]._xp().ones(ins[0].shape, dtype=ins[0].dtype),)
    else:
        _, vs = _as_tuple(v, "v")
        if len(vs) != len(ins):
            raise RuntimeError(f"v has {len(vs)} tensors but there are {len(ins)} inputs")
    single_out, outs = _call(func, ins, create_graph)
    us = [zeros_like(o).requires_grad_(o.dtype.kind in "fc") for o in outs]
    with _tape.enable_grad():
        gs = _grads(outs, ins, us, True)
        tangents = _grads(gs, us, [vv if isinstance(vv, Tensor) else _wrap(vv) for vv in vs],
                          create_graph, retain_graph=create_graph)
    if not create_graph:
        tangents = [t.detach() for t in tangents]
    return _pack(single_out, _detached(outs, create_graph)), _pack(single_out, tangents)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: d out / d in of shape out.shape + in.shape.

    For several inputs (a tuple) the result is a tuple, one block per input;
    for several outputs, a tuple per output.
    """
    if strategy != "reverse-mode":
        raise NotImplementedError(
            f"jacobian(strategy={strategy!r}) is not implemented in nbgrad.eager; it uses "
            "reverse mode (a forward-mode Jacobian of a traced function: nbgrad.gradient.Rop)")
    single_in, xs = _as_tuple(inputs, "inputs")
    ins = _prepare(xs, create_graph)
    single_out, outs = _call(func, ins, create_graph)
    blocks = []
    for o in outs:
        rows = [[] for _ in ins]
        n = o._data.size
        for j in range(n):
            seed = o._xp().zeros(n, dtype=o.dtype)
            seed[j] = 1
            seed = seed.reshape(o.shape)
            gs = _grads([o], ins, [seed], create_graph)
            for k, g in enumerate(gs):
                rows[k].append(g)
        per_in = []
        for x, r in zip(ins, rows):
            if r:
                jac = stack(r).reshape(tuple(o.shape) + tuple(x.shape))
            else:
                jac = zeros_like(x).reshape((0,) + tuple(x.shape)).reshape(
                    tuple(o.shape) + tuple(x.shape))
            per_in.append(jac if create_graph else jac.detach())
        blocks.append(_pack(single_in, per_in))
    return _pack(single_out, blocks)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of the scalar function ``func`` at ``inputs`` (in.shape + in.shape).

    For a tuple of inputs, a tuple of tuples: block (i, j) is d2 f / d in_i d in_j.
    """
    single_in, xs = _as_tuple(inputs, "inputs")

    def gradient(*ins):
        single, outs = _call(func, ins, True)
        if len(outs) != 1 or outs[0]._data.size != 1:
            raise RuntimeError("The function given to hessian should return a single Tensor "
                               "with a single element")
        out = outs[0]
        return tuple(_grads([out], ins, [out._xp().ones(out.shape, dtype=out.dtype)], True))

    res = jacobian(gradient, xs, create_graph=create_graph)
    return res[0][0] if single_in else res


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T H)`` for a scalar function (the Hessian is symmetric: equals ``hvp``)."""
    single_in, xs = _as_tuple(inputs, "inputs")
    ins = _prepare(xs, True)
    _, outs = _call(func, ins, True)
    if v is None:
        raise RuntimeError("vhp() needs the vector v")
    _, vs = _as_tuple(v, "v")
    out = outs[0]
    with _tape.enable_grad():
        gs = _grads([out], ins, [out._xp().ones(out.shape, dtype=out.dtype)], True)
        res = _grads(gs, ins, list(vs), create_graph, retain_graph=create_graph)
    res = res if create_graph else [r.detach() for r in res]
    return out if create_graph else out.detach(), _pack(single_in, res)


hvp = vhp
