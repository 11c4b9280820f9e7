"""``torch.autograd`` on nbgrad.eager: ``grad``, ``backward``, ``Function`` and ``functional``.

``grad`` and ``backward`` run the tape (``nbgrad.eager.tape``); ``Function``
records a call whose gradient is the user's own ``backward`` (for the cases
where a formula is better written by hand, or to check one);
``functional`` computes Jacobians, Hessians and Jacobian-vector products of
Python functions of tensors.
"""

from nbgrad.eager import tape as _tape
from nbgrad.eager.autograd import functional  # noqa: F401
from nbgrad.eager.autograd.function import Function, FunctionCtx, once_differentiable  # noqa: F401
from nbgrad.eager.functions import _wrap, grad as _grad, zeros_like
from nbgrad.eager.tape import enable_grad, no_grad, set_grad_enabled  # noqa: F401
from nbgrad.eager.tensor import Tensor, _seed

__all__ = ["grad", "backward", "Function", "FunctionCtx", "functional", "no_grad", "enable_grad",
           "set_grad_enabled", "once_differentiable"]


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Gradients of ``outputs`` with respect to ``inputs``, as ``torch.autograd.grad``.

    Returns a tuple with one gradient per input; the ``.grad`` of the
    inputs is left alone. ``grad_outputs`` gives the vector of a
    vector-Jacobian product for each non-scalar output; ``create_graph``
    records the computation so that the gradients can be differentiated
    again; ``allow_unused`` (or ``materialize_grads``, which gives zeros)
    accepts inputs that the outputs do not depend on.

    >>> import nbgrad.eager as torch
    >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
    >>> (g,) = torch.autograd.grad((x ** 2).sum(), x)
    >>> g
    tensor([2., 4.])
    """
    if is_grads_batched:
        raise NotImplementedError(
            "autograd.grad(is_grads_batched=True) is not implemented in nbgrad.eager; loop over "
            "the batch of grad_outputs, or use autograd.functional.jacobian")
    single = isinstance(inputs, Tensor)
    ins = [inputs] if single else list(inputs)
    res = _grad(outputs, ins, grad_outputs, retain_graph, create_graph,
                allow_unused=bool(allow_unused or materialize_grads))
    if materialize_grads:
        res = tuple(g if g is not None else zeros_like(x) for g, x in zip(res, ins))
    return res


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, grad_variables=None,
             inputs=None):
    """Accumulate the gradients of ``tensors`` (seeded by ``grad_tensors``) into the leaves' ``.grad``.

    Like calling ``t.backward(g)`` for each pair at once, walking the shared
    part of the graph once. With ``inputs`` only those tensors get ``.grad``.

    >>> import nbgrad.eager as torch
    >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
    >>> torch.autograd.backward([x * 2, x * x], [torch.ones(2), torch.ones(2)])
    >>> x.grad
    tensor([4., 6.])
    """
    roots = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is None:
        grad_tensors = grad_variables
    if grad_tensors is None:
        grad_tensors = [None] * len(roots)
    elif isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors]
    grad_tensors = list(grad_tensors)
    if len(grad_tensors) != len(roots):
        raise RuntimeError(f"backward(): got {len(grad_tensors)} grad_tensors for {len(roots)} "
                           "tensors; pass one gradient per tensor")
    seeds = []
    for r, g in zip(roots, grad_tensors):
        if not r.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a "
                               "grad_fn; compute it from tensors with requires_grad=True")
        if g is None:
            if r._data.size != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs; the "
                                   f"tensor of shape {tuple(r.shape)} needs a gradient in "
                                   "grad_tensors")
            g = r._xp().ones(r.shape, dtype=r.dtype)
        seeds.append(g if create_graph and isinstance(g, Tensor) else _seed(g, r))
    if retain_graph is None:
        retain_graph = create_graph
    if create_graph:
        seeds = [g if isinstance(g, Tensor) else _wrap(g) for g in seeds]
    capture = None if inputs is None else ([inputs] if isinstance(inputs, Tensor) else list(inputs))
    with _tape.set_grad_enabled(True if create_graph else _tape.is_grad_enabled()):
        res = _tape.run_backward(roots, seeds, retain_graph, create_graph, capture=capture,
                                 wrap=_wrap)
    if capture is not None:
        for t, g in zip(capture, res):
            if g is not None:
                _tape._accumulate(t, g, create_graph, _wrap)
