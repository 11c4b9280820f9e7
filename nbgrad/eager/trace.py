"""Tracing eager code into a symbolic graph, for the control path it takes.

While a function runs under ``trace``, every eager call also applies its
primitive's symbolic graph to the symbolic values of its arguments, so the
outputs end up with a formula in terms of symbolic inputs. Each Python branch
taken on a tensor (``if x.sum() > 0``, ``while y.norm() < 1000``) is noted as
a *guard*; the compiled function checks its guards on every call and raises if
new inputs would take another path.

A value read out of a traced tensor as a Python number or a NumPy array
(``float(t)``, ``int(t)``, ``t.item()``, ``t.tolist()``, ``t.numpy()``, an
integer tensor used as an index) enters the graph as a constant. Each such
read is noted too, with the value read: on a later call whose inputs give
another value (beyond rounding, for floats) the function is traced again with
those inputs, so a read value is never silently reused. A function that reads
a different value on nearly every call is better called eagerly: after
``MAX_RETRACES`` re-traces the call raises ``ControlPathError``.
"""

import inspect
import os
import sys

import numpy as np

from nbgrad.compile.function import function
from nbgrad.eager import functions as _functions
from nbgrad.eager.tensor import Tensor
from nbgrad.graph.replace import clone_replace
from nbgrad.printing import pp
from nbgrad.tensor.basic import constant
from nbgrad.tensor.type import TensorType

__all__ = ["trace", "Traced", "ControlPathError"]


MAX_RETRACES = 8


class ControlPathError(RuntimeError):
    """The inputs of a traced function would take another branch than the traced one."""


class _Read:
    """A value read out of a traced tensor: ``what`` (``'float()'``, ...) gave ``value``."""

    __slots__ = ("sym", "what", "value", "where")

    def __init__(self, sym, what, value, where):
        self.sym, self.what, self.value, self.where = sym, what, value, where

    def holds(self, got):
        """True when ``got`` (the tensor's value on a new call) reads as the same value."""
        expected = np.asarray(self.value)
        got = np.asarray(got)
        if self.what in ("int()", "index"):
            return int(got) == int(expected)
        if self.what == "float()":
            got = got.astype(np.float64)
        if got.shape != expected.shape:
            return False
        if got.dtype.kind in "fc" or expected.dtype.kind in "fc":
            # Values computed by the compiled function may differ from the eager ones in
            # the last bits; 64 units of the dtype's precision are rounding, more is a change.
            tol = 64 * np.finfo(got.dtype if got.dtype.kind in "fc" else expected.dtype).eps
            return bool(np.allclose(got, expected, rtol=tol, atol=tol, equal_nan=True))
        return bool(np.array_equal(got, expected))


class _Tracer:
    def __init__(self):
        self.guards = []
        self.reads = []

    def follow(self, prim, tensors, results):
        syms = [t._sym if t._sym is not None else constant(t._host()) for t in tensors]
        outs = clone_replace(list(prim.outputs), dict(zip(prim.inputs, syms)))
        for r, o in zip(results, outs):
            r._sym = o

    def branch(self, tensor, value):
        self.guards.append((tensor._sym, value))

    def read(self, tensor, what, value):
        self.reads.append(_Read(tensor._sym, what, value, _user_frame()))


def _user_frame():
    """``file:line`` of the innermost caller outside nbgrad.eager (for messages)."""
    here = os.path.dirname(__file__)
    f = sys._getframe(1)
    while f is not None and os.path.dirname(f.f_code.co_filename) == here:
        f = f.f_back
    return f"{f.f_code.co_filename}:{f.f_lineno}" if f is not None else "?"


def note_branch(tensor, value):
    """Called by ``Tensor.__bool__``: remember the branch taken while tracing."""
    tracer = _functions._TRACE[0]
    if tracer is not None:
        tracer.branch(tensor, value)


def note_read(tensor, what, value):
    """Called when a traced tensor's value is read as a number or array (``float(t)``, ...)."""
    tracer = _functions._TRACE[0]
    if tracer is not None:
        tracer.read(tensor, what, value)


class Traced:
    """A traced eager function: symbolic ``inputs`` and ``outputs``, compiled on demand.

    Call it like the original function (with arrays or tensors); it returns
    arrays of the device it was traced on (NumPy arrays for the CPU, CuPy
    arrays for the GPU, where the function is compiled with ``backend='gpu'``).
    ``formula()`` gives the text form of each output, and ``function`` the
    compiled ``nbgrad.Function``. ``guards`` are the branches taken, ``reads``
    the values read out of tensors as Python numbers or arrays; ``retraces``
    counts how often a changed read value made it trace ``fn`` again.
    """

    def __init__(self, inputs, outputs, single, guards, name, device="cpu", reads=(), fn=None,
                 names=None):
        self.device = device
        self.inputs = inputs
        self.outputs = outputs
        self.single = single
        self.guards = guards
        self.reads = list(reads)
        self.name = name
        self.fn = fn
        self.names = names
        self.retraces = 0
        self._function = None

    @property
    def output(self):
        """The single symbolic output (for ``nbgrad.pp(traced.output)``)."""
        return self.outputs[0]

    @property
    def function(self):
        """The compiled function of the inputs (guards and reads are extra outputs)."""
        if self._function is None:
            checked = [g for g, _ in self.guards] + [r.sym for r in self.reads]
            # Inputs are cast to the traced dtypes, as the traced code computed in those.
            self._function = function(self.inputs, list(self.outputs) + checked,
                                      on_unused_input="ignore", name=self.name,
                                      backend=self.device, allow_input_downcast=True)
        return self._function

    def __call__(self, *args):
        vals = [a._data if isinstance(a, Tensor) else a for a in args]
        res = self.function(*vals)
        n = len(self.outputs)
        n_guards = len(self.guards)
        for k, ((g, expected), got) in enumerate(zip(self.guards, res[n:n + n_guards])):
            if bool(got) != expected:
                raise ControlPathError(
                    f"{self.name}: these inputs take another branch than the traced ones (condition "
                    f"{k} evaluated to {bool(got)}, traced with {expected}: {_pp(g)}); trace the "
                    "function again with these inputs, or call it eagerly"
                )
        for r, got in zip(self.reads, res[n + n_guards:]):
            if not r.holds(got):
                self._retrace(args, r)
                return self(*args)
        return res[0] if self.single else res[:n]

    def _retrace(self, args, read):
        if self.fn is None or self.retraces >= MAX_RETRACES:
            raise ControlPathError(
                f"{self.name}: the value read by {read.what} at {read.where} was {read.value!r} "
                f"when traced, and differs for these inputs"
                + (f" (after {self.retraces} re-traces)" if self.fn is not None else "")
                + "; call the function eagerly, or keep the value a tensor (use t instead of "
                "t.item() or float(t)) so that it stays part of the traced graph"
            )
        new = trace(self.fn, *args, names=self.names)
        retraces = self.retraces + 1
        self.__dict__.update(new.__dict__)
        self.retraces = retraces

    def formula(self):
        """The text form (``nbgrad.pp``) of each output, one per line."""
        return "\n".join(_pp(o) for o in self.outputs)

    def __repr__(self):
        ins = ", ".join(str(i) for i in self.inputs)
        return f"<Traced {self.name}({ins}) -> {self.formula()}>"


def _pp(v):
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

    A value read as a Python number is checked on every call; when it
    changes, ``fn`` is traced again:

    >>> tr = ne.trace(lambda v: v * v.item(), ne.tensor(2.0))
    >>> float(tr(np.float32(3.0))), tr.retraces
    (9.0, 1)
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
        t._sym = TensorType(t._data.dtype, (None,) * t._data.ndim)(nm)
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
    syms = []
    for o in outs:
        if not isinstance(o, Tensor):
            raise TypeError(f"trace(): {getattr(fn, '__name__', fn)} must return tensors, got {type(o).__name__}")
        syms.append(o._sym if o._sym is not None else constant(o._host()))
    inputs = [t._sym for t in tensors]
    for t in tensors:
        t._sym = None
    devices = {t.device for t in tensors}
    device = devices.pop() if len(devices) == 1 else "cpu"
    return Traced(inputs, syms, single, tracer.guards, getattr(fn, "__name__", "traced"), device,
                  tracer.reads, fn, names)
