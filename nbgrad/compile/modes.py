"""Debugging modes of compiled functions: ``MonitorMode`` and ``DebugMode``.

A mode object given to ``function(..., mode=...)`` chooses the rewrites (its
``rewrite_mode``) and then changes how the compiled function runs
(``wrap_function``). Both modes here replace the thunks of the generated code
by checking or monitoring ones, for the function they compile only: a function
compiled in an ordinary mode runs exactly as before, at the same speed.
"""

import re

import numpy as np

from nbgrad.compile.linker import link
from nbgrad.graph.fg import FunctionGraph
from nbgrad.graph.op import Op
from nbgrad.rewriting import Mode, get_mode, rewrite_graph

__all__ = ["MonitorMode", "DebugMode", "DebugModeError", "InvalidValueError", "BadOptimization",
           "BadThunkOutput", "BadDestroyMap", "NanGuardMode", "NanGuardError", "as_mode"]

# Theano's rewrite names in .including()/.excluding(), as nbgrad's tags
_THEANO_NAMES = {
    "local_elemwise_fusion": "fusion", "elemwise_fusion": "fusion", "composite_elemwise_fusion": "fusion",
    "fusion": "fusion", "inplace": "inplace", "inplace_opt": "inplace", "stabilize": "stability",
    "constant_folding": "constant_fold", "merge": "merge", "canonicalize": "canonicalize",
    "specialize": "specialize",
}


class _RunMode:
    """Rewrites chosen by a tag query, and a different way of running the compiled code."""

    def __init__(self, optimizer="fast_run", including=(), excluding=()):
        base = {"fast_run": "FAST_RUN", "fast_compile": "FAST_COMPILE", "None": "NONE", None: "NONE"}
        self.optimizer = optimizer
        self.rewrite_mode = Mode(base.get(optimizer, optimizer),
                                 [_THEANO_NAMES.get(t, t) for t in including],
                                 [_THEANO_NAMES.get(t, t) for t in excluding])

    def _with(self, including=(), excluding=()):
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.rewrite_mode = self.rewrite_mode.including_(*[_THEANO_NAMES.get(t, t) for t in including])
        new.rewrite_mode = new.rewrite_mode.excluding_(*[_THEANO_NAMES.get(t, t) for t in excluding])
        return new

    def including(self, *names):
        """The same mode with the rewrites or tags ``names`` added."""
        return self._with(including=names)

    def excluding(self, *names):
        """The same mode without the rewrites or tags ``names`` (Theano's names such as
        ``'local_elemwise_fusion'`` are understood)."""
        return self._with(excluding=names)

    def wrap_function(self, fn):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({self.rewrite_mode!r})"


class _NodeCall:
    """What ``pre_func``/``post_func`` get as ``fn``: the node's storage, as in Theano.

    ``inputs`` and ``outputs`` are lists with one single-element list per input and
    output of the node (``fn.outputs[0][0]`` is the first output's value, None
    before the node has run).
    """

    __slots__ = ("node", "inputs", "outputs")

    def __init__(self, node, args):
        self.node = node
        self.inputs = [[a] for a in args]
        self.outputs = [[None] for _ in node.outputs]


class MonitorMode(_RunMode):
    """Run a function node by node, calling ``pre_func`` and ``post_func`` around each node.

    Each is called as ``f(i, node, fn)``: ``i`` is the node's position in the
    compiled program, ``node`` the Apply node, and ``fn.inputs`` / ``fn.outputs``
    its values as lists of one-element lists (Theano's storage cells). Typical use
    is finding where a NaN first appears; compile with ``.excluding('fusion',
    'inplace')`` to see every elementwise operation as its own node.

    Parameters
    ----------
    pre_func, post_func : callable, optional
    optimizer : {'fast_run', 'fast_compile', None}

    Examples
    --------
    >>> import numpy as np, nbgrad, nbgrad.tensor as T
    >>> from nbgrad.compile import MonitorMode
    >>> def report_nan(i, node, fn):
    ...     if any(np.isnan(out[0]).any() for out in fn.outputs):
    ...         print("NaN from", node.op, "with inputs", [inp[0] for inp in fn.inputs])
    >>> x = T.dscalar("x")
    >>> f = nbgrad.function([x], T.log(x) * x,
    ...                     mode=MonitorMode(post_func=report_nan).excluding("fusion"))
    >>> _ = f(-1.0)
    NaN from log with inputs [array(-1.)]
    NaN from mul with inputs [array(-1.), array(nan)]
    """

    def __init__(self, pre_func=None, post_func=None, optimizer="fast_run", linker=None):
        for what, func in (("pre_func", pre_func), ("post_func", post_func)):
            if func is not None and not callable(func):
                raise TypeError(f"MonitorMode: {what} must be callable as {what}(i, node, fn), got {func!r}")
        super().__init__(optimizer)
        self.pre_func = pre_func
        self.post_func = post_func

    def wrap_function(self, fn):
        pre, post = self.pre_func, self.post_func
        if pre is None and post is None:
            return fn

        def monitor(k, node, thunk):
            single = len(node.outputs) == 1

            def monitored(*args):
                call = _NodeCall(node, args)
                if pre is not None:
                    pre(k, node, call)
                out = thunk(*args)
                for cell, value in zip(call.outputs, (out,) if single else out):
                    cell[0] = value
                if post is not None:
                    post(k, node, call)
                return out

            return monitored

        _replace_thunks(fn, monitor)
        return fn


class DebugModeError(ValueError):
    """A check of ``DebugMode`` failed."""


class InvalidValueError(DebugModeError):
    """A node produced NaN or infinity from finite inputs (or an input holds one)."""


class BadThunkOutput(DebugModeError):
    """A node's fast implementation disagrees with its reference ``perform``."""


class BadDestroyMap(DebugModeError):
    """A node changed an input that it does not declare in its ``destroy_map``."""


class BadOptimization(DebugModeError):
    """The rewritten graph computes another value than the graph as written."""


_TOLERANCES = {"float16": (1e-2, 1e-3), "float32": (1e-4, 1e-5), "complex64": (1e-4, 1e-5)}


class DebugMode(_RunMode):
    """Run a function with every check on; slow, for finding bugs.

    At each call:

    * every node of the rewritten graph is checked as it runs: its outputs must
      be finite where its inputs are (NaN or inf raises ``InvalidValueError``
      naming the node and the line that built it), it must leave unchanged the
      inputs it does not declare it overwrites (``BadDestroyMap``), and where the
      op has a fast implementation its result must agree with the op's reference
      ``perform`` (``BadThunkOutput``);
    * the inputs and shared values must be finite;
    * the graph as written (only the rewrites correctness needs) runs on the same
      values, and every output and update must agree with the rewritten graph's
      (``BadOptimization``, naming the output). Where the graph as written gives
      NaN or inf and the rewritten one a finite value, a stabilizing rewrite did
      its job: that is not an error.

    Also selected by ``mode='DebugMode'`` (or ``'DEBUG_MODE'``).

    Parameters
    ----------
    optimizer : {'fast_run', 'fast_compile', None}
    check_isfinite : bool
        Raise on NaN and infinity (default True).
    rtol, atol : float, optional
        Tolerances of the comparisons (by default loose enough for the dtype:
        1e-5/1e-8 for float64, 1e-4/1e-5 for float32).

    Examples
    --------
    >>> import numpy as np, nbgrad, nbgrad.tensor as T
    >>> x = T.dvector("x")
    >>> f = nbgrad.function([x], T.exp(x).sum(), mode="DebugMode")
    >>> float(f(np.zeros(3)))
    3.0
    >>> from nbgrad.compile.modes import InvalidValueError
    >>> with np.errstate(over="ignore"):
    ...     try:
    ...         f(np.array([1000.0]))
    ...     except InvalidValueError as err:
    ...         print(str(err).splitlines()[0])
    InvalidValueError while computing exp in the compiled function: DebugMode: exp (inputs x) produced NaN or inf in output 0 from finite inputs:
    """

    def __init__(self, optimizer="fast_run", check_isfinite=True, rtol=None, atol=None, linker=None,
                 check_c_code=None, check_py_code=None, stability_patience=None,
                 check_preallocated_output=None, require_matching_strides=None):
        # Theano's options about its C code and output buffers have nothing to act on here:
        # nbgrad generates Python over the backend's array module, checked as a whole
        super().__init__(optimizer)
        self.check_isfinite = bool(check_isfinite)
        self.rtol, self.atol = rtol, atol

    def _tol(self, dtype):
        rtol, atol = _TOLERANCES.get(str(dtype), (1e-5, 1e-8))
        return (rtol if self.rtol is None else self.rtol), (atol if self.atol is None else self.atol)

    def wrap_function(self, fn):
        maker, xp = fn.maker, fn.backend.xp
        mode = self

        def check_node(k, node, thunk):
            single = len(node.outputs) == 1
            destroyed = {i for ins in node.op.destroy_map.values() for i in ins}
            reference = type(node.op).make_thunk is not _op_make_thunk()

            def checked(*args):
                saved = [_copy(a) for a in args]
                out = thunk(*args)
                outs = (out,) if single else tuple(out)
                for j, (a, s) in enumerate(zip(args, saved)):
                    if j not in destroyed and not _same(a, s, xp):
                        raise BadDestroyMap(
                            f"DebugMode: the node {_where(node)} changed its input {j} ({node.inputs[j]}), "
                            "which its op does not declare in destroy_map")
                if reference:
                    try:
                        ref = node.op.perform(node, [_copy(s) for s in saved], xp)
                    except NotImplementedError:
                        ref = None
                    if ref is not None:
                        for j, (got, want) in enumerate(zip(outs, (ref,) if single else ref)):
                            if not mode._close(got, want, xp):
                                raise BadThunkOutput(
                                    f"DebugMode: output {j} of {_where(node)} differs from the op's "
                                    f"reference perform:\n  fast: {_show(got)}\n  reference: {_show(want)}")
                if mode.check_isfinite and all(_finite(s, xp) for s in saved):
                    for j, o in enumerate(outs):
                        if not _finite(o, xp):
                            raise InvalidValueError(
                                f"DebugMode: {_where(node)} produced NaN or inf in output {j} from "
                                f"finite inputs:\n  inputs: {[_show(s) for s in saved]}\n"
                                f"  output: {_show(o)}")
                return out

            return checked

        _replace_thunks(fn, check_node)

        # the graph as written, linked on the same shared storage, for the comparison
        ref_graph = FunctionGraph(list(maker.fgraph.inputs), list(maker.unoptimized_outputs))
        ref_graph.mutable_inputs = frozenset()
        rewrite_graph(ref_graph, get_mode("FAST_COMPILE"))
        reference = link(ref_graph, len(maker.inputs), fn._cells, xp).fn
        optimized = fn._fn
        names = [str(o.variable) for o in maker.outputs] + [
            f"the update of {v}" for v, _ in maker.updates] + [
            f"the update of input {k}" for k, _ in maker.input_updates]
        cells = fn._cells
        n_in = len(maker.inputs)
        inputs = maker.fgraph.inputs

        def debug_call(*vals):
            if mode.check_isfinite:
                for k, v in enumerate(list(vals) + [c[0] for c in cells]):
                    if not _finite(v, xp):
                        what = f"input {k} ({inputs[k]})" if k < n_in else f"shared variable {inputs[k]}"
                        raise InvalidValueError(f"DebugMode: {what} holds NaN or inf: {_show(v)}")
            expected = reference(*[_copy(v) for v in vals])
            results = optimized(*vals)
            for name, got, want in zip(names, results, expected):
                if not mode._close(got, want, xp, stabilized_ok=True):
                    raise BadOptimization(
                        f"DebugMode: the rewritten graph computes another value for {name} than the "
                        f"graph as written:\n  rewritten: {_show(got)}\n  as written: {_show(want)}\n"
                        "Compile with mode=nbgrad.rewriting.Mode(excluding=[...]) to find the rewrite "
                        "(f.maker.rewrites_applied lists those that fired)")
            return results

        fn._fn = debug_call
        return fn

    def _close(self, got, want, xp, stabilized_ok=False):
        got_arr, want_arr = xp.asarray(got), xp.asarray(want)
        if got_arr.shape != want_arr.shape:
            return False
        if got_arr.dtype.kind not in "fc" and want_arr.dtype.kind not in "fc":
            return bool(xp.all(got_arr == want_arr))
        rtol, atol = self._tol(got_arr.dtype)
        close = xp.isclose(got_arr, want_arr, rtol=rtol, atol=atol, equal_nan=True)
        if stabilized_ok:
            close = close | (~xp.isfinite(want_arr) & xp.isfinite(got_arr))
        return bool(xp.all(close))


class NanGuardError(AssertionError):
    """``NanGuardMode`` found NaN, infinity or a huge value going into or out of a node."""


class NanGuardMode(_RunMode):
    """Run a function node by node and stop at the first NaN, infinity or huge value.

    Every floating-point value going into or coming out of a node (the function's
    inputs and shared values included) is checked; the first bad one raises
    ``NanGuardError`` (an ``AssertionError``) naming the node, which of its inputs or
    outputs holds the value and the line of code that built the node. Each check
    can be turned off; all are on by default.

    Parameters
    ----------
    nan_is_error : bool, optional
        Stop at NaN (default True).
    inf_is_error : bool, optional
        Stop at +inf or -inf (default True).
    big_is_error : bool, optional
        Stop at a magnitude above ``big`` (default True).
    big : float
        What "huge" means (default 1e10).
    optimizer : {'fast_run', 'fast_compile', None}

    Examples
    --------
    >>> import numpy as np, nbgrad, nbgrad.tensor as T
    >>> from nbgrad.compile.nanguardmode import NanGuardMode
    >>> x = T.dvector("x")
    >>> f = nbgrad.function([x], T.log(x).sum(), mode=NanGuardMode())
    >>> float(f(np.ones(2)))
    0.0
    >>> from nbgrad.compile.nanguardmode import NanGuardError
    >>> with np.errstate(divide="ignore"):
    ...     try:
    ...         f(np.zeros(2))
    ...     except NanGuardError as err:
    ...         print(str(err).splitlines()[0])
    NanGuardError while computing log in the compiled function: NanGuardMode: -inf in output 0 of log (inputs x)
    """

    def __init__(self, nan_is_error=None, inf_is_error=None, big_is_error=None, optimizer="fast_run",
                 linker=None, big=1e10):
        super().__init__(optimizer)
        self.nan_is_error = True if nan_is_error is None else bool(nan_is_error)
        self.inf_is_error = True if inf_is_error is None else bool(inf_is_error)
        self.big_is_error = True if big_is_error is None else bool(big_is_error)
        self.big = float(big)

    def _problem(self, value, xp):
        """What is wrong with ``value`` ('NaN', '+inf', 'a value of magnitude 1e+12'), or None."""
        dtype = getattr(value, "dtype", None)
        if dtype is None or np.dtype(dtype).kind not in "fc":
            return None
        if self.nan_is_error and bool(xp.any(xp.isnan(value))):
            return "NaN"
        if self.inf_is_error and bool(xp.any(xp.isinf(value))):
            return "-inf" if bool(xp.any(xp.isneginf(xp.real(value)))) else "+inf"
        if self.big_is_error:
            finite = xp.abs(xp.where(xp.isfinite(value), value, 0))
            if finite.size and float(finite.max()) > self.big:
                return f"a value of magnitude {float(finite.max()):.3g} (above {self.big:g})"
        return None

    def wrap_function(self, fn):
        xp = fn.backend.xp
        mode = self

        def guard(k, node, thunk):
            single = len(node.outputs) == 1

            def guarded(*args):
                for j, a in enumerate(args):
                    bad = mode._problem(a, xp)
                    if bad:
                        raise NanGuardError(
                            f"NanGuardMode: {bad} in input {j} ({node.inputs[j]}) of {_where(node)}")
                out = thunk(*args)
                for j, o in enumerate((out,) if single else out):
                    bad = mode._problem(o, xp)
                    if bad:
                        raise NanGuardError(f"NanGuardMode: {bad} in output {j} of {_where(node)}")
                return out

            return guarded

        _replace_thunks(fn, guard)
        return fn


_DEBUG_NAMES = ("DebugMode", "DEBUG_MODE")


def as_mode(mode):
    """``mode`` with the names of the modes defined here turned into mode objects."""
    if isinstance(mode, str) and mode in _DEBUG_NAMES:
        return DebugMode()
    return mode


def _replace_thunks(fn, wrap):
    """Replace each node's thunk in ``fn``'s generated code by ``wrap(k, node, thunk)``.

    The generated line of node ``k`` reads ``v7 = _t3(...)``; its thunk is the global
    ``_t3`` of the generated function, which belongs to this compiled function alone.
    """
    program = fn._program
    env = program.fn.__globals__
    lines = program.source.splitlines()
    pattern = re.compile(r"=\s*(_t(\d+))\(")
    for lineno, node in sorted(program.line_nodes.items()):
        match = pattern.search(lines[lineno - 1])
        if match is None:  # a lazy node (ifelse) is control flow, not a call
            continue
        name = match.group(1)
        env[name] = wrap(int(match.group(2)), node, env[name])


def _op_make_thunk():
    return Op.make_thunk


def _copy(value):
    copy = getattr(value, "copy", None)
    return copy() if callable(copy) and hasattr(value, "shape") else value


def _same(a, b, xp):
    if not hasattr(a, "shape") or not hasattr(b, "shape"):
        return True
    return a.shape == b.shape and bool(xp.all((a == b) | ((a != a) & (b != b))))


def _finite(value, xp):
    dtype = getattr(value, "dtype", None)
    if dtype is None or np.dtype(dtype).kind not in "fc":
        return True
    return bool(xp.all(xp.isfinite(value)))


def _show(value):
    text = repr(value)
    return text if len(text) <= 300 else text[:297] + "..."


def _where(node):
    # the error raised inside the compiled code also gets the line that built the node
    return f"{node.op} (inputs {', '.join(map(str, node.inputs))})"
