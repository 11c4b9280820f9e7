"""Tracing eager code into a symbolic graph, for the control path it takes.

While a function runs under ``trace``, every eager call also applies its
primitive's symbolic graph to the symbolic values of its arguments, so the
outputs end up with a formula in terms of symbolic inputs. Each Python branch
taken on a tensor (``if x.sum() > 0``, ``while y.norm() < 1000``) is noted as
a *guard*; the compiled function checks its guards on every call and raises if
new inputs would take another path.
"""

import inspect

import numpy as np

from nbgrad.eager import functions as _functions
from nbgrad.eager.tensor import Tensor
from nbgrad.graph.replace import clone_replace
from nbgrad.tensor.type import TensorType

__all__ = ["trace", "Traced", "ControlPathError"]


class ControlPathError(RuntimeError):
    """The inputs of a traced function would take another branch than the traced one."""


class _Tracer:
    def __init__(self):
        self.guards = []

    def follow(self, prim, tensors, results):
        from nbgrad.tensor.basic import constant

        syms = [t._sym if t._sym is not None else constant(t.numpy()) for t in tensors]
        outs = clone_replace(list(prim.outputs), dict(zip(prim.inputs, syms)))
        for r, o in zip(results, outs):
            r._sym = o

    def branch(self, tensor, value):
        self.guards.append((tensor._sym, value))


def note_branch(tensor, value):
    """Called by ``Tensor.__bool__``: remember the branch taken while tracing."""
    tracer = _functions._TRACE[0]
    if tracer is not None:
        tracer.branch(tensor, value)


class Traced:
    """A traced eager function: symbolic ``inputs`` and ``outputs``, compiled on demand.

    Call it like the original function (with arrays or tensors); it returns
    arrays of the device it was traced on (NumPy arrays for the CPU, CuPy
    arrays for the GPU, where the function is compiled with ``backend='gpu'``). ``formula()`` gives the text form of each output, and
    ``function`` the compiled ``nbgrad.Function``.
    """

    def __init__(self, inputs, outputs, single, guards, name, device="cpu"):
        self.device = device
        self.inputs = inputs
        self.outputs = outputs
        self.single = single
        self.guards = guards
        self.name = name
        self._function = None

    @property
    def output(self):
        """The single symbolic output (for ``nbgrad.pp(traced.output)``)."""
        return self.outputs[0]

    @property
    def function(self):
        """The compiled function of the inputs (guards are extra outputs)."""
        if self._function is None:
            from nbgrad.compile.function import function

            guard_vars = [g for g, _ in self.guards]
            self._function = function(self.inputs, list(self.outputs) + guard_vars,
                                      on_unused_input="ignore", name=self.name,
                                      backend=self.device)
        return self._function

    def __call__(self, *args):
        vals = [a.data if isinstance(a, Tensor) else a for a in args]
        res = self.function(*vals)
        n = len(self.outputs)
        for k, ((g, expected), got) in enumerate(zip(self.guards, res[n:])):
            if bool(got) != expected:
                raise ControlPathError(
                    f"{self.name}: these inputs take another branch than the traced ones (condition "
                    f"{k} evaluated to {bool(got)}, traced with {expected}: {_pp(g)}); trace the "
                    "function again with these inputs, or call it eagerly"
                )
        return res[0] if self.single else res[:n]

    def formula(self):
        """The text form (``nbgrad.pp``) of each output, one per line."""
        return "\n".join(_pp(o) for o in self.outputs)

    def __repr__(self):
        ins = ", ".join(str(i) for i in self.inputs)
        return f"<Traced {self.name}({ins}) -> {self.formula()}>"


def _pp(v):
    from nbgrad.printing import pp

    return pp(v)


def trace(fn, *example_inputs, names=None):
    """Run ``fn`` eagerly on ``example_inputs`` and return its symbolic graph.

    Parameters
    ----------
    fn : callable
        Eager code taking tensors and returning a tensor or a tuple of tensors.
    example_inputs : arrays or Tensors
        The values to run with; the symbolic inputs get their dtypes and number
        of dimensions.
    names : list of str, optional
        Names of the symbolic inputs (default: ``fn``'s parameter names).

    Returns
    -------
    Traced

    Examples
    --------
    >>> import numpy as np, nbgrad, nbgrad.eager as ne
    >>> def f(x):
    ...     y = x * 2
    ...     while y.norm() < 10:
    ...         y = y * 2
    ...     return y.sum()
    >>> tr = ne.trace(f, ne.tensor([1.0, 1.0]))
    >>> formula = nbgrad.pp(tr.output)  # the path taken: sum(x * 2 * 2)
    >>> len(tr.guards)  # the loop condition, checked three times
    3
    >>> float(tr(np.array([1.5, 1.0])))
    20.0
    """
    if names is None:
        try:
            params = [p.name for p in inspect.signature(fn).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            params = []
        names = params[: len(example_inputs)] + [f"x{k}" for k in range(len(params), len(example_inputs))]
    tensors = []
    for x, nm in zip(example_inputs, names):
        t = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
        t = t.detach()
        t._sym = TensorType(t.data.dtype, (None,) * t.data.ndim)(nm)
        tensors.append(t)
    if _functions._TRACE[0] is not None:
        raise RuntimeError("trace() cannot be nested")
    tracer = _Tracer()
    _functions._TRACE[0] = tracer
    try:
        out = fn(*tensors)
    finally:
        _functions._TRACE[0] = None
    single = not isinstance(out, (list, tuple))
    outs = [out] if single else list(out)
    from nbgrad.tensor.basic import constant

    syms = []
    for o in outs:
        if not isinstance(o, Tensor):
            raise TypeError(f"trace(): {getattr(fn, '__name__', fn)} must return tensors, got {type(o).__name__}")
        syms.append(o._sym if o._sym is not None else constant(o.numpy()))
    inputs = [t._sym for t in tensors]
    for t in tensors:
        t._sym = None
    devices = {t.device for t in tensors}
    device = devices.pop() if len(devices) == 1 else "cpu"
    return Traced(inputs, syms, single, tracer.guards, getattr(fn, "__name__", "traced"), device)
