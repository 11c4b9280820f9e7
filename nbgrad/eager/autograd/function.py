"""``autograd.Function``: an eager call whose gradient is written by hand.

Subclass it with static methods ``forward(ctx, *args)`` and
``backward(ctx, *grad_outputs)``, and call ``MyFunction.apply(*args)``. The
forward runs without recording; the call goes on the tape as one node whose
backward is the user's ``backward``, given one gradient per output (None for
an output marked non-differentiable) and returning one gradient (or None) per
argument of ``forward``. With ``create_graph=True`` the user's backward runs
with recording on, so it can be differentiated again when it is written with
tensor operations.

Tensors kept with ``ctx.save_for_backward`` are checked when read back
(``ctx.saved_tensors``): one changed in place in between raises the same error
as any other saved value.

Under ``nbgrad.eager.trace`` the forward's own operations make up the traced
graph (the symbolic gradient then follows those operations, not the
hand-written backward).
"""

from nbgrad.eager import tape as _tape
from nbgrad.eager.primitive import zeros_for
from nbgrad.eager.tensor import Tensor

__all__ = ["Function", "FunctionCtx", "once_differentiable"]


class FunctionCtx:
    """The ``ctx`` of a Function call: saves tensors and any attribute for the backward."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self._saved = None
        self._non_diff = set()
        self.materialize_grads = True

    def save_for_backward(self, *tensors):
        """Keep ``tensors`` (or None) for ``backward``; read them as ``ctx.saved_tensors``."""
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save tensors (or None), but argument "
                                f"{tensors.index(t)} is {type(t).__name__}; keep other values as "
                                "attributes of ctx (ctx.value = ...)")
        self._saved = [(t, None if t is None else t._version[0]) for t in tensors]

    @property
    def saved_tensors(self):
        """The tensors given to ``save_for_backward``, checked for in-place changes since."""
        if self._saved is None:
            return ()
        for k, (t, v) in enumerate(self._saved):
            if t is not None and t._version[0] != v:
                raise RuntimeError(
                    f"one of the tensors needed for the gradient has been modified by an in-place "
                    f"operation: saved tensor {k} of shape {tuple(t.shape)} is at version "
                    f"{t._version[0]}, expected version {v}. Compute with a copy (x.clone()) or "
                    "change the tensor out of place")
        return tuple(t for t, _ in self._saved)

    def mark_non_differentiable(self, *outputs):
        """Say that these outputs get no gradient (their backward argument is None)."""
        self._non_diff.update(id(o) for o in outputs)

    def mark_dirty(self, *tensors):
        """Accepted for compatibility; in-place changes are tracked by version counters."""

    def set_materialize_grads(self, value):
        """With False, gradients of outputs that received none are passed as None, not zeros."""
        self.materialize_grads = bool(value)


def once_differentiable(fn):
    """Mark a ``backward`` as not differentiable again (accepted as is)."""
    return fn


class _Call:
    """What the tape records for one ``Function.apply``: the ``ctx`` and the user's backward."""

    custom = True
    crosses_devices = False

    def __init__(self, fn_class, ctx, positions, n_args, differentiable):
        self.fn_class = fn_class
        self.ctx = ctx
        self.positions = positions  # argument index of each tensor input
        self.n_args = n_args
        self.differentiable = differentiable
        self.outputs = [None] * len(differentiable)
        self.label = f"{fn_class.__name__}Backward"

    def __repr__(self):
        return f"<{self.label}>"

    def backward(self, gouts, out_data, needs, create_graph, wrap):
        """One gradient per tensor input (None where none is needed)."""
        grads = []
        for g, a, d in zip(gouts, out_data, self.differentiable):
            if not d:
                grads.append(None)
            elif g is None:
                grads.append(wrap(_zeros(a)) if self.ctx.materialize_grads else None)
            else:
                grads.append(g if isinstance(g, Tensor) else wrap(g))
        with _tape.set_grad_enabled(create_graph):
            res = self.fn_class.backward(self.ctx, *grads)
        res = list(res) if isinstance(res, (tuple, list)) else [res]
        name = self.fn_class.__name__
        if len(res) != self.n_args:
            raise RuntimeError(
                f"function {name}Backward returned an incorrect number of gradients (expected "
                f"{self.n_args}, got {len(res)}); return one gradient (or None) per argument of "
                "forward")
        out = []
        for pos, need in zip(self.positions, needs):
            g = res[pos]
            if not need or g is None:
                out.append(None)
                continue
            if not isinstance(g, Tensor):
                raise TypeError(f"function {name}Backward returned a {type(g).__name__} as the "
                                f"gradient of argument {pos}; return a tensor or None")
            out.append(g if create_graph else g._data)
        return out


def _zeros(a):
    return zeros_for(a)


class Function:
    """Base class of operations with a hand-written gradient.

    Examples
    --------
    >>> import nbgrad.eager as torch
    >>> class Exp(torch.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         y = x.exp()
    ...         ctx.save_for_backward(y)
    ...         return y
    ...     @staticmethod
    ...     def backward(ctx, grad_output):
    ...         (y,) = ctx.saved_tensors
    ...         return grad_output * y
    >>> x = torch.tensor([0.0, 1.0], requires_grad=True)
    >>> Exp.apply(x).sum().backward()
    >>> x.grad.tolist() == x.detach().exp().tolist()
    True
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your "
                                  "custom autograd.Function to use it with backward mode AD.")

    def __init__(self, *args, **kwargs):
        raise RuntimeError("Legacy autograd function with non-static forward method is deprecated. "
                           "Please use new-style autograd function with static forward method: "
                           "call MyFunction.apply(...), not MyFunction()(...)")

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward`` and record the call, with ``backward`` as its gradient."""
        if kwargs:
            raise TypeError(f"{cls.__name__}.apply() takes positional arguments only")
        positions = [k for k, a in enumerate(args) if isinstance(a, Tensor)]
        tensors = [args[k] for k in positions]
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx = FunctionCtx(needs)
        with _tape.no_grad():
            out = cls.forward(ctx, *args)
        single = not isinstance(out, (tuple, list))
        outs = [out] if single else list(out)
        if not all(isinstance(o, Tensor) for o in outs):
            raise TypeError(f"{cls.__name__}.forward must return tensors (or a tuple of them)")
        if not (_tape.is_grad_enabled() and any(t.requires_grad for t in tensors)):
            return out
        diff = [o.dtype.kind in "fc" and id(o) not in ctx._non_diff for o in outs]
        call = _Call(cls, ctx, positions, len(args), diff)
        res = _tape._record(call, tensors, [o._data for o in outs], Tensor._make)
        for r, o in zip(res, outs):
            r._sym = o._sym  # when tracing: the forward's own graph
        return res[0] if single else tuple(res)
