"""``function``: compile symbolic inputs and outputs into a callable.

Building a Function: normalize inputs/outputs/updates/givens → check update
types → copy the graph into a FunctionGraph → rewrite it → link it into
straight-line code. Calling it: bind and check arguments, run the code, then
assign every update at once (a failing call changes no shared variable).
"""

import copy as _copy
import linecache as lc
import sys
import traceback
import warnings

import numpy as np

from nbgrad.backends import get_backend
from nbgrad.compile.io import In, InputStorage, Out, as_in, input_converter
from nbgrad.compile.linker import link
from nbgrad.compile.modes import as_mode
from nbgrad.compile.sharedvalue import SharedVariable, new_lock
from nbgrad.config import config
from nbgrad.graph.basic import Constant, Variable
from nbgrad.graph.fg import FunctionGraph, without_cyclic_gc
from nbgrad.graph.replace import clone_replace
from nbgrad.graph.traversal import ancestors
from nbgrad.printing.html import function_html
from nbgrad.rewriting import get_mode, rewrite_graph
from nbgrad.rewriting.cache import rewrite_cached
from nbgrad.tensor.basic import as_tensor_variable
from nbgrad.tensor.type import TensorType

__all__ = ["function", "Function", "FunctionMaker", "UnusedInputError"]


class UnusedInputError(ValueError):
    """An explicit input that the outputs do not depend on."""


class CompiledFunctionError(RuntimeError):
    """A compiled function failed at run time; names the node and the user line that built it.

    The error raised is also an instance of the original exception's class, so
    ``except ValueError`` still catches a shape mismatch inside a compiled function,
    and it carries the original's attributes (e.g. ``shape`` and ``dtype`` of a NumPy
    allocation failure).
    """

    def __str__(self):
        # the explanation, not what the original class would print from its own fields
        return self.args[0] if len(self.args) == 1 and isinstance(self.args[0], str) else super().__str__()


_ERROR_CLASSES = {}


def _compiled_error(exc, msg):
    """A CompiledFunctionError with message ``msg`` that is also an instance of ``type(exc)``.

    The original class's constructor is not called: many exception classes require
    fields of their own (NumPy's allocation error its shape and dtype, UnicodeError
    five arguments). The new error gets the original's attributes instead.
    """
    base = type(exc)
    cls = _ERROR_CLASSES.get(base)
    if cls is None:
        cls = CompiledFunctionError
        if not issubclass(base, CompiledFunctionError):
            try:
                # named as the original class, so that a traceback reads "ValueError: ..."
                cls = type(base.__name__, (CompiledFunctionError, base),
                           {"__module__": base.__module__, "__qualname__": base.__qualname__})
            except Exception:  # noqa: BLE001 - incompatible layout, final class, odd metaclass
                pass
        _ERROR_CLASSES[base] = cls
    try:
        err = BaseException.__new__(cls, msg)
        BaseException.__init__(err, msg)
        err.__dict__.update(getattr(exc, "__dict__", {}))
        str(err)
    except Exception:  # noqa: BLE001 - a class whose instances cannot be made this way
        err = CompiledFunctionError(msg)
    return err


def function(inputs, outputs=None, mode=None, updates=None, givens=None,
             no_default_updates=False, accept_inplace=False, name=None,
             rebuild_strict=True, allow_input_downcast=None, profile=None,
             on_unused_input=None, backend=None):
    """Compile a callable from symbolic ``inputs`` to ``outputs``.

    Parameters
    ----------
    inputs : list of Variable or In
    outputs : Variable or list of Variables/Out, optional
        A single output is returned as one array, a list as a list.
    updates : dict or list of (shared variable, expression) pairs
        New values for shared variables, assigned together after each call.
    givens : dict or list of (variable, replacement) pairs
        Substitutions made in the graph before compiling.
    no_default_updates : bool or list of shared variables
        Skip the default updates (e.g. of random streams).
    mode : {'FAST_RUN', 'FAST_COMPILE', 'DebugMode'} or a Mode, optional
        Which rewrites run (default ``config.mode``); ``'DebugMode'``,
        ``nbgrad.compile.DebugMode()`` or ``nbgrad.compile.MonitorMode(...)`` also
        check or monitor every node as the function runs.
    on_unused_input : {'raise', 'warn', 'ignore'}
    backend : {'cpu', 'gpu'}, optional
        Array backend (default ``config.backend``). With ``'gpu'`` the function
        runs on the CUDA device through CuPy: NumPy inputs are copied to the
        device once per call, CuPy inputs are used without a copy, results are
        returned as CuPy arrays on the device (``r.get()`` copies one to the
        host), and the shared variables it uses move to the device (their
        ``get_value()`` still returns NumPy arrays). Raises
        ``nbgrad.backends.BackendUnavailable`` where CuPy or a CUDA device is
        missing; nothing falls back to the CPU.

    Notes
    -----
    Every returned array is the caller's own (it shares no memory with an input, a
    shared value or another output) unless the output is ``Out(expr, borrow=True)``.

    Thread safety: a compiled function may be called from several threads at once.
    A call of a function with updates holds the lock of every shared variable it reads
    or updates (``SharedVariable.lock``) from reading their values to writing the new
    ones, so it is atomic with respect to every other call with updates, and to
    ``set_value``, on any of the same variables: no update is lost. Locks are always
    taken in the order of the variables' creation, so calls never deadlock, also with
    ``f.copy(swap=...)``. A function without updates takes no lock: concurrent readers
    run in parallel, and a reader running during a call that updates several variables
    may see some of them already updated; hold their locks in ``lock_rank`` order
    around the call where a consistent snapshot matters.

    Examples
    --------
    >>> import nbgrad, nbgrad.tensor as T
    >>> a, b = T.dmatrices("a", "b")
    >>> f = nbgrad.function([a, b], [a - b, abs(a - b)])
    >>> [r.tolist() for r in f([[1, 1]], [[0, 2]])]
    [[[1.0, -1.0]], [[1.0, 1.0]]]
    """
    # one pause of the cyclic collector for the whole compile (see ``without_cyclic_gc``)
    with without_cyclic_gc():
        maker = FunctionMaker(inputs, outputs, mode=mode, updates=updates, givens=givens,
                              no_default_updates=no_default_updates, name=name,
                              allow_input_downcast=allow_input_downcast,
                              on_unused_input=on_unused_input, backend=backend)
        return maker.create()


def _as_in(x, allow_input_downcast):
    if isinstance(x, In):
        inp = _copy.copy(x)  # the caller's In may serve several functions with other options
    else:
        inp = as_in(x)  # a variable, or one of Theano's tuple forms
    if isinstance(inp.variable, SharedVariable):
        raise TypeError(
            f"{inp.variable} is a shared variable; it cannot be an explicit input of a function "
            "(its value is used automatically). Use givens=[(shared_var, other_var)] to replace it"
        )
    if inp.variable.owner is not None:
        raise TypeError(
            f"function input {inp.variable} is computed from other variables; inputs must be "
            "free variables (e.g. T.dvector('x')). Use givens to substitute values for computed ones"
        )
    if inp.allow_downcast is None:
        inp.allow_downcast = allow_input_downcast
    return inp


def _as_pairs(x, what):
    if x is None:
        return []
    if isinstance(x, dict):
        return list(x.items())
    pairs = list(x)
    for p in pairs:
        if not (isinstance(p, (tuple, list)) and len(p) == 2):
            raise TypeError(f"{what} must be a dict or a list of (variable, value) pairs, got {p!r}")
    return [tuple(p) for p in pairs]


def _shared_label(var):
    if var.name:
        return f"shared variable {var.name!r}"
    value = var.container[0]
    text = repr(value) if getattr(value, "size", 2) <= 4 else f"an array of shape {tuple(value.shape)}"
    return f"the unnamed shared variable holding {text} (give it a name with shared(..., name=...))"


def _check_update(var, upd):
    if not isinstance(var, SharedVariable):
        raise TypeError(
            f"updates: {var} is not a shared variable; only shared variables (nbgrad.shared) can be updated"
        )
    if not isinstance(upd, Variable):
        # A plain value: take the shared variable's type when that loses nothing.
        try:
            upd = var.type.filter(upd, what=f"updates: the new value for {_shared_label(var)}")
        except (TypeError, ValueError):
            pass
    if not hasattr(var.type, "broadcastable"):
        # a non-array state (e.g. a random generator): the update must have its exact type
        if not isinstance(upd, Variable) or upd.type != var.type:
            raise TypeError(
                f"updates: {_shared_label(var)} has type {var.type}; its update must be a "
                f"symbolic variable of that type, got {upd!r}"
            )
        return var, upd
    try:
        upd = as_tensor_variable(upd)
    except TypeError as exc:
        raise TypeError(f"updates: the new value for {_shared_label(var)} is not an expression: {exc}") from None
    vt, ut = var.type, upd.type
    if ut.dtype != vt.dtype or ut.ndim != vt.ndim:
        hint = ""
        if ut.dtype != vt.dtype:
            if vt.dtype.startswith(("int", "uint")) and ut.dtype.startswith("float"):
                hint = (
                    f" The shared variable holds integers: create it with a float value "
                    f"(e.g. shared(0.0) instead of shared(0)), or cast the update "
                    f"(T.cast(expr, '{vt.dtype}'))."
                )
            else:
                hint = f" Cast the update (T.cast(expr, '{vt.dtype}')) or create the shared variable with dtype {ut.dtype}."
        else:
            hint = " The update must have the same number of dimensions as the shared value."
        raise TypeError(
            f"an update must have the same type as its shared variable: "
            f"{_shared_label(var)} has type {vt} but its update {upd} has type {ut}.{hint}"
        )
    for i, (a, b) in enumerate(zip(vt.shape, ut.shape)):
        if a is not None and b is not None and a != b:
            raise TypeError(
                f"updates: the update of {_shared_label(var)} has static size {b} on axis {i}, "
                f"but the shared variable's type {vt} requires {a}"
            )
    return var, upd


def _outputs_to_copy(fgraph, borrowed=()):
    """Positions of ``fgraph.outputs`` whose value must be copied before it is returned or stored.

    Every returned array and every new shared value must own its memory: otherwise
    writing into a result would change a shared variable (an output that is also an
    update), another result (the same output twice), the caller's input or a constant.
    Each output is followed through ops that return views (``view_map``) to the array
    that owns its memory; it is copied when that array is a graph input or constant, or
    is already the storage of an earlier output. Outputs at the positions in
    ``borrowed`` (``Out(borrow=True)``) are never copied. Decided once, at compile time.
    """
    owners = {}

    def owners_of(v):
        found = owners.get(v)
        if found is None:
            node = v.owner
            views = node.op.view_map.get(v.index) if node is not None and getattr(node.op, "view_map", None) else None
            if views:
                found = frozenset().union(*(owners_of(node.inputs[i]) for i in views))
            else:
                found = frozenset([v])
            owners[v] = found
        return found

    copy, taken = set(), set()
    for k, out in enumerate(fgraph.outputs):
        mine = owners_of(out)
        if k not in borrowed and (mine & taken or any(o.owner is None for o in mine)):
            copy.add(k)  # the copy is a new array, owned by this output alone
        else:
            taken |= mine
    return copy


_ON_UNUSED_INPUT = (None, "raise", "warn", "ignore")


class FunctionMaker:
    """Holds the specification of a compiled function (``f.maker``) and builds it."""

    def __init__(self, inputs, outputs=None, mode=None, updates=None, givens=None,
                 no_default_updates=False, name=None, allow_input_downcast=None,
                 on_unused_input=None, backend=None):
        if not isinstance(inputs, (list, tuple)):
            raise TypeError(
                f"function: inputs must be a list (e.g. [x, y]), got {type(inputs).__name__}"
            )
        self.inputs = [_as_in(i, allow_input_downcast) for i in inputs]
        seen = set()
        for i in self.inputs:
            if i.variable in seen:
                raise ValueError(f"function: input {i.variable} is given twice")
            seen.add(i.variable)
        self.single_output = outputs is not None and not isinstance(outputs, (list, tuple))
        outs = [] if outputs is None else ([outputs] if self.single_output else list(outputs))
        self.outputs = [o if isinstance(o, Out) else Out(o) for o in outs]
        for o in self.outputs:
            if not isinstance(o.variable, Variable):
                o.variable = as_tensor_variable(o.variable)
        self.mode = as_mode(mode or config.mode)
        self.backend = backend or config.backend
        self.name = name
        self.allow_input_downcast = allow_input_downcast
        if on_unused_input not in _ON_UNUSED_INPUT:
            raise ValueError(
                f"function: on_unused_input must be one of {', '.join(map(repr, _ON_UNUSED_INPUT[1:]))} "
                f"(or None for 'ignore'), got {on_unused_input!r}"
            )
        self.on_unused_input = on_unused_input or "ignore"
        self.givens = _as_pairs(givens, "givens")
        self.no_default_updates = no_default_updates
        pairs = [_check_update(v, u) for v, u in _as_pairs(updates, "updates")]
        keys = [v for v, _ in pairs]
        dup = {v for v in keys if keys.count(v) > 1}
        if dup:
            raise ValueError(f"updates: {', '.join(map(str, dup))} is updated more than once")
        self.user_updates = pairs
        self._build()

    # -------------------------------------------------------------- building
    def _build(self):
        out_vars = [o.variable for o in self.outputs]
        updates = list(self.user_updates)
        walked = None  # (frontier, its ancestors): the last walk below, reused when it is the same
        # default updates of shared variables used by the graph (random streams)
        if self.no_default_updates is not True:
            skip = set(self.no_default_updates or [])
            have = {v for v, _ in updates}
            frontier = out_vars + [u for _, u in updates]
            while True:
                added = False
                walked = (list(frontier), ancestors(frontier))
                for v in walked[1]:
                    if (isinstance(v, SharedVariable) and v.default_update is not None
                            and v not in have and v not in skip):
                        updates.append(_check_update(v, v.default_update))
                        have.add(v)
                        frontier.append(v.default_update)
                        added = True
                if not added:
                    break
        self.updates = updates
        self.input_updates = [(k, as_tensor_variable(i.update)) for k, i in enumerate(self.inputs)
                              if i.update is not None]
        all_outs = out_vars + [u for _, u in updates] + [u for _, u in self.input_updates]
        if self.givens:
            for old, _new in self.givens:
                if not isinstance(old, Variable):
                    raise TypeError(f"givens: {old!r} is not a symbolic variable")
            gmap = {}
            for old, new in self.givens:
                new = new if isinstance(new, Variable) else as_tensor_variable(new)
                if new.type != old.type:
                    if getattr(old.type, "is_compatible", None) and old.type.ndim == new.type.ndim and old.type.dtype == new.type.dtype:
                        pass
                    else:
                        raise TypeError(
                            f"givens: {old} has type {old.type} but its replacement {new} has type "
                            f"{new.type}; they must match (e.g. T.scalar(dtype=state.dtype))"
                        )
                gmap[old] = new
            all_outs = clone_replace(all_outs, gmap)
        user_vars = [i.variable for i in self.inputs]
        anc = _reuse_walk(walked, all_outs, user_vars) or ancestors(all_outs, blockers=user_vars)
        anc_set = set(anc)
        for i in self.inputs:
            if i.variable not in anc_set and self.on_unused_input != "ignore":
                msg = (
                    f"function: input {i.variable} is not used to compute any output or update. "
                    "Remove it, or pass on_unused_input='ignore' (or 'warn')"
                )
                if self.on_unused_input == "raise":
                    raise UnusedInputError(msg)
                warnings.warn(msg, stacklevel=4)
        shared_vars = []
        for v in anc:
            if isinstance(v, SharedVariable) and v not in shared_vars:
                shared_vars.append(v)
        for v, _ in updates:
            if v not in shared_vars:
                shared_vars.append(v)
        free = [v for v in anc if v.owner is None and not isinstance(v, (Constant, SharedVariable))
                and v not in set(user_vars)]
        if free:
            raise MissingInputError(
                f"function: the outputs depend on {', '.join(map(str, free))}, which "
                f"{'is' if len(free) == 1 else 'are'} not in the inputs list; add "
                f"{'it' if len(free) == 1 else 'them'} to inputs or give a value through givens"
            )
        self.shared_vars = shared_vars
        self.n_outputs = len(out_vars)
        self.fgraph = FunctionGraph(user_vars + shared_vars, all_outs)
        # Inputs whose arrays the compiled code may overwrite (In(mutable=True)); every
        # other input, and every shared value, must be left untouched by in-place rewrites.
        self.fgraph.mutable_inputs = frozenset(
            v for v, i in zip(self.fgraph.inputs, self.inputs) if i.mutable
        )
        self.unoptimized_outputs = all_outs
        self.n_nodes_before = len(self.fgraph.apply_nodes)
        self.fgraph, self.rewrites_applied = rewrite_cached(
            self.fgraph, get_mode(getattr(self.mode, "rewrite_mode", self.mode)), rewrite_graph)
        self.n_nodes_after = len(self.fgraph.apply_nodes)
        self.locks = self._call_locks()

    def _call_locks(self):
        """The locks a call holds, in rank order; none for a function without updates.

        A function with updates holds the lock of every shared variable it reads or
        updates, and one of its own for its stateful inputs (``In(..., update=...)``).
        """
        if not (self.updates or self.input_updates):
            return ()
        ranked = {id(v.lock): (v.lock_rank, v.lock) for v in self.shared_vars}
        if self.input_updates:
            rank, lock = new_lock()
            ranked[id(lock)] = (rank, lock)
        return tuple(lock for _, lock in sorted(ranked.values(), key=lambda rank_lock: rank_lock[0]))

    def create(self):
        fn = Function(self)
        fn.__class__ = _call_class(fn)  # its call, written out for its signature
        # a debugging mode (MonitorMode, DebugMode) changes how this function runs
        wrap = getattr(self.mode, "wrap_function", None)
        return fn if wrap is None else wrap(fn)


def _reuse_walk(walked, outputs, blockers):
    """``ancestors(outputs, blockers)`` from ``walked`` (a frontier and its ancestors, found with
    no blockers) when that walk covered the same outputs and every blocker is a graph input
    (a blocker without owner stops nothing); else None."""
    if walked is None or any(v.owner is not None for v in blockers):
        return None
    frontier, found = walked
    if len(frontier) != len(outputs) or any(a is not b for a, b in zip(frontier, outputs)):
        return None
    return found


class MissingInputError(ValueError):
    """The outputs depend on a free variable that is not among the inputs."""


class Function:
    """A compiled function; call it with values for its inputs.

    Attributes: ``maker`` (spec and rewritten graph, ``f.maker.fgraph``),
    ``source`` (generated code), ``input_names``.
    """

    def __init__(self, maker):
        self.maker = maker
        self.name = maker.name
        self.backend = get_backend(maker.backend)
        fg = maker.fgraph
        n_in = len(maker.inputs)
        self._cells = [v.container for v in maker.shared_vars]
        if self.backend.name != "cpu":
            for cell in self._cells:  # shared arrays move to the device once and stay there
                self.backend.place_shared(cell)
        # Inputs with defaults/stateful values get storage of their own.
        self._defaults = []
        for k, inp in enumerate(maker.inputs):
            if inp.value is None:
                self._defaults.append(None)
                continue
            what = f"the default value of input {k}" + (f" ({inp.name!r})" if inp.name else "")
            value = input_converter(inp.variable.type, False, inp.allow_downcast, what)(inp.value)
            # The caller's array stays theirs: later changes to it do not change the default.
            self._defaults.append([value.copy() if value is inp.value else value])
        borrowed = {k for k, o in enumerate(maker.outputs) if o.borrow}
        copy_outputs = _outputs_to_copy(fg, borrowed)
        self._program = link(fg, n_in, self._cells, self.backend.xp, copy_outputs=copy_outputs)
        self._fn = self._program.fn
        self.source = self._program.source
        self.input_names = [i.name for i in maker.inputs]
        self._index = {}
        for k, i in enumerate(maker.inputs):
            if i.name is not None:
                self._index.setdefault(i.name, k)
        self._filters = [self._make_filter(i, k) for k, i in enumerate(maker.inputs)]
        self._exact = [self._exact_type(i) for i in maker.inputs]
        upd_vars = [v for v, _ in maker.updates]
        self._update_cells = [v.container for v in upd_vars]
        self._n_out = maker.n_outputs
        self._single = maker.single_output
        self._stateful = [k for k, i in enumerate(maker.inputs) if i.update is not None]
        for v in upd_vars:
            if isinstance(v, SharedVariable) and maker.name:
                v.updated_by.append(maker.name)
        self._n_in = n_in
        self._has_updates = len(fg.outputs) > maker.n_outputs
        # held for a whole call by a function with updates (_call_class)
        self._locks = maker.locks
        self._acquires = tuple(lock.acquire for lock in self._locks)
        self._releases = tuple(lock.release for lock in self._locks)

    def _exact_type(self, inp):
        """``(dtype name, ndim)`` of the arrays a call passes on unchecked, or None.

        The generated call (``_call_class``) tests these in line, as ``_make_filter``'s
        fast path does; None (a device backend, a static shape, another dtype) calls the
        input's filter.
        """
        ttype = inp.variable.type
        if not isinstance(ttype, TensorType):
            return None
        dtype = ttype.numpy_dtype
        if self.backend.name != "cpu" or any(s is not None for s in ttype.shape):
            return None
        if dtype.name not in _EXACT_DTYPES or np.dtype(dtype.name) is not dtype:
            return None
        return dtype.name, ttype.ndim

    def _make_filter(self, inp, k):
        ttype = inp.variable.type
        what = f"input {k} ({inp.name!r})" if inp.name else f"input {k}"
        backend = self.backend
        strict, allow = inp.strict, inp.allow_downcast
        if not isinstance(ttype, TensorType):  # a typed list: its values stay Python lists on the host
            if backend.name != "cpu":
                raise TypeError(f"{what}: {ttype} inputs run on the CPU backend only, not on {backend.name!r}")
            return input_converter(ttype, strict, allow, what)
        ndim, dtype = ttype.ndim, ttype.numpy_dtype
        static = any(s is not None for s in ttype.shape)
        ndarray = np.ndarray
        convert = input_converter(ttype, strict, allow, what)

        if backend.name != "cpu":
            on_device = backend.make_filter(ttype, strict, allow, what)
            device_array = backend.ndarray

            def check_host_value(v):
                # a host value is converted (and checked) here, then copied to the device
                return on_device(v if type(v) is device_array else convert(v))

            return check_host_value

        if static:
            if any(s is None for s in ttype.shape):
                return convert
            shape = tuple(ttype.shape)

            def check_shape(v):
                if type(v) is ndarray and v.dtype is dtype and v.shape == shape:
                    return v
                return convert(v)

            return check_shape

        def check(v):
            if type(v) is ndarray and v.dtype is dtype and v.ndim == ndim:
                return v
            return convert(v)

        return check

    # -------------------------------------------------------------- calling
    def __call__(self, *args, **kwargs):
        # A compiled function's class is made by ``_call_class``: its ``__call__`` is this
        # one written out for the function's signature, inside the function's locks.
        if kwargs or len(args) != self._n_in:
            args = self._bind(args, kwargs)
        vals = [f(a) for f, a in zip(self._filters, args)]
        try:
            results = self._fn(*vals)
        except Exception as exc:  # noqa: BLE001 - re-raised with graph context
            err = self._explain(exc)
            if err is exc:
                raise
            raise err from exc
        # Every update has been computed: assign them all together.
        if self._has_updates:
            n_out = self._n_out
            new = results[n_out:]
            for cell, v in zip(self._update_cells, new):
                cell[0] = v
            for k, v in zip(self._stateful, new[len(self._update_cells):]):
                self._defaults[k][0] = v
            if self._single:
                return results[0]
            return list(results[:n_out])
        if self._single:
            return results[0]
        return list(results)

    def _bind(self, args, kwargs):
        n = len(self._filters)
        if len(args) > n:
            raise TypeError(
                f"{self._label()} takes {n} input(s) ({', '.join(map(str, self.input_names))}), "
                f"got {len(args)} positional argument(s)"
            )
        values = list(args) + [_MISSING] * (n - len(args))
        for key, v in kwargs.items():
            k = self._index.get(key)
            if k is None:
                raise TypeError(
                    f"{self._label()} got an unexpected keyword argument {key!r}; "
                    f"its inputs are named {[nm for nm in self.input_names if nm]}"
                )
            if values[k] is not _MISSING:
                raise TypeError(f"{self._label()} got multiple values for input {key!r}")
            values[k] = v
        for k, v in enumerate(values):
            if v is _MISSING:
                if self._defaults[k] is None:
                    nm = self.input_names[k]
                    raise TypeError(
                        f"{self._label()} is missing a value for input {k}"
                        + (f" ({nm!r})" if nm else "")
                        + "; it has no default (give one with In(var, value=...))"
                    )
                values[k] = self._defaults[k][0]
        return values

    def _label(self):
        return f"function {self.name!r}" if self.name else "the compiled function"

    def _explain(self, exc):
        tb = sys.exc_info()[2]
        frame_locals, node = None, None
        for fr, lineno in traceback.walk_tb(tb):
            if fr.f_code.co_filename == self._program.filename:
                node = self._program.line_nodes.get(lineno)
                frame_locals = dict(fr.f_locals)
        if node is None:
            return exc
        names = self._program.names
        parts = []
        for i in node.inputs:
            nm = names.get(i)
            val = frame_locals.get(nm) if nm and frame_locals else None
            if val is None and isinstance(i, Constant):
                val = i.data
            desc = f"shape {tuple(val.shape)}, dtype {val.dtype}" if hasattr(val, "shape") else "?"
            parts.append(f"    {i}: {i.type} — {desc}")
        trace = node.tag.trace
        where = ""
        if trace:
            fname, line, func = trace
            src = lc.getline(fname, line).strip()
            where = f"\nThe node was created at {fname}:{line} (in {func}):\n    {src}"
        fused = getattr(getattr(node.op, "scalar_op", None), "traces", ())
        if len(set(fused)) > 1:
            where += "\nIt fuses elementwise operations created at:" + "".join(
                f"\n    {t[0]}:{t[1]}: {lc.getline(t[0], t[1]).strip()}" for t in dict.fromkeys(fused))
        msg = (
            f"{type(exc).__name__} while computing {node.op} in {self._label()}: {exc}\n"
            f"  inputs:\n" + "\n".join(parts) + where
        )
        err = _compiled_error(exc, msg)
        err.node = node
        return err

    # -------------------------------------------------------------- copying
    def copy(self, share_memory=False, swap=None, delete_updates=False, name=None):
        """A new function with the same graph.

        ``swap={old_shared: new_shared}`` makes it use (and update) other shared
        variables; ``delete_updates=True`` drops all updates.
        """
        m = self.maker
        swap = dict(swap or {})
        for old, new in swap.items():
            if not isinstance(old, SharedVariable) or not isinstance(new, SharedVariable):
                raise TypeError(
                    f"copy(swap=...): keys and values must be shared variables, got "
                    f"{old!r}: {new!r}; e.g. f.copy(swap={{state: nbgrad.shared(0.0)}})"
                )
            if old.type.dtype != new.type.dtype or old.type.ndim != new.type.ndim:
                raise TypeError(
                    f"copy(swap=...): {_shared_label(old)} has type {old.type} but its replacement "
                    f"{_shared_label(new)} has type {new.type}; they must have the same dtype and ndim"
                )
            if old not in m.shared_vars:
                raise ValueError(
                    f"copy(swap=...): {_shared_label(old)} is not used by {self._label()}; "
                    f"it uses {[str(v) for v in m.shared_vars] or 'no shared variables'}"
                )
        outs = [Out(clone_replace(o.variable, swap) if swap else o.variable, o.borrow) for o in m.outputs]
        updates = []
        if not delete_updates:
            for v, u in m.user_updates:
                updates.append((swap.get(v, v), clone_replace(u, swap) if swap else u))
        givens = [(swap.get(a, a), clone_replace(b, swap) if swap else b) for a, b in m.givens]
        inputs = []
        for i in m.inputs:
            if swap and i.update is not None:
                i = _copy.copy(i)
                i.update = clone_replace(i.update, swap)
            inputs.append(i)
        maker = FunctionMaker(
            inputs, outs[0].variable if m.single_output else outs, mode=m.mode,
            updates=updates, givens=givens,
            no_default_updates=True if delete_updates else m.no_default_updates,
            name=name or m.name, allow_input_downcast=m.allow_input_downcast,
            on_unused_input="ignore", backend=m.backend,
        )
        return maker.create()

    # -------------------------------------------------------------- display
    def __repr__(self):
        ins = ", ".join(f"{i.name or i.variable}: {i.variable.type}" for i in self.maker.inputs)
        outs = ", ".join(str(o.variable.type) for o in self.maker.outputs)
        upd = ""
        if self.maker.updates:
            upd = ", updates [" + ", ".join(
                str(v.name) if v.name else f"<unnamed {v.type}>" for v, _ in self.maker.updates
            ) + "]"
        nm = f" {self.name}" if self.name else ""
        return f"<nbgrad.Function{nm} ({ins}) -> ({outs}){upd}, backend={self.maker.backend}>"

    def _repr_html_(self):
        return function_html(self)

    # -------------------------------------------------------------- stored input values
    @property
    def value(self):
        """The stored values of the inputs, by position, name or variable (``f.value[x]``)."""
        return InputStorage(self, containers=False)

    @property
    def container(self):
        """The storage of each input, by position, name or variable (``f.container[x].value``)."""
        return InputStorage(self, containers=True)

    def __getitem__(self, key):
        """``f[x]``: the stored value of input ``x`` (its default or its state)."""
        return self.value[key]

    def __setitem__(self, key, value):
        """``f[x] = v``: a new stored value for input ``x``, used when a call leaves it out."""
        self.value[key] = value

    @property
    def free_shared(self):
        return list(self.maker.shared_vars)


_CALL_CLASSES = {}


def _call_class(fn):
    """The Function subclass whose ``__call__`` is straight-line code for ``fn``'s signature.

    Decided at compile time and written out: the number of inputs, the fast check of each
    (an array of the input's exact dtype and rank is used as it is, anything else goes
    through the input's converter), the locks taken, where each result goes (returned,
    assigned to a shared variable, kept as a stateful input's value). The values a call
    needs (locks, program, converters, storage cells) are read from ``fn``, so one class
    serves every function of the same shape.

    A call of a function with updates holds the locks of its shared variables (see
    ``FunctionMaker._call_locks``): binding the arguments, reading the shared values,
    computing and assigning the updates is then one step for every other call that locks
    any of the same variables, and concurrent calls lose no update. Every function takes
    its locks in one global order (their ranks), so two calls never wait for each other.
    Each lock is taken by one call, and a lock taken is released whatever happens next
    (an interrupt while waiting for the next lock included). ``Function.__call__`` is the
    same call written generically.
    """
    source = _call_source(fn)
    cls = _CALL_CLASSES.get(source)
    if cls is None:
        scope = {"ndarray": np.ndarray, **{f"_{d}": np.dtype(d) for d in _EXACT_DTYPES}}
        exec(compile(source, f"<nbgrad-call-{len(_CALL_CLASSES)}>", "exec"), scope)
        if len(_CALL_CLASSES) >= 1024:
            _CALL_CLASSES.clear()
        cls = _CALL_CLASSES[source] = type(
            "Function", (Function,), {"__call__": scope["__call__"], "__module__": __name__,
                                      "__qualname__": "Function", "call_source": source})
    return cls


#: dtypes whose exact arrays a generated call recognizes by identity (``a.dtype is _float64``)
_EXACT_DTYPES = ("float64", "float32", "float16", "int64", "int32", "int16", "int8",
                 "uint64", "uint32", "uint16", "uint8", "bool", "complex128", "complex64")


def _call_source(fn):
    n, n_locks = fn._n_in, len(fn._locks)
    lines = ["def __call__(self, *args, **kwargs):"]
    pad = "    "
    if n_locks:
        lines += [f"    {''.join(f'a{k}, ' for k in range(n_locks))}= self._acquires",
                  f"    {''.join(f'r{k}, ' for k in range(n_locks))}= self._releases",
                  "    a0()"]
        for k in range(1, n_locks):
            lines += ["    try:", f"        a{k}()", "    except BaseException:",
                      "        " + "; ".join(f"r{j}()" for j in reversed(range(k))), "        raise"]
        lines.append("    try:")
        pad = "        "
    body = [f"if kwargs or len(args) != {n}:", "    args = self._bind(args, kwargs)"]
    names = [f"i{k}" for k in range(n)]
    if n:
        body.append(f"{''.join(nm + ', ' for nm in names)}= args")
    for k, exact in enumerate(fn._exact):
        if exact is None:
            body.append(f"i{k} = self._filters[{k}](i{k})")
        else:
            dtype, ndim = exact
            body += [f"if type(i{k}) is not ndarray or i{k}.dtype is not _{dtype} or i{k}.ndim != {ndim}:",
                     f"    i{k} = self._filters[{k}](i{k})"]
    body += ["try:", f"    r = self._fn({', '.join(names)})", "except Exception as exc:",
             "    err = self._explain(exc)", "    if err is exc:", "        raise", "    raise err from exc"]
    n_out, n_upd = fn._n_out, len(fn._update_cells)
    if n_upd:
        body.append(f"{''.join(f'u{j}, ' for j in range(n_upd))}= self._update_cells")
        body.append("; ".join(f"u{j}[0] = r[{n_out + j}]" for j in range(n_upd)))
    for j, k in enumerate(fn._stateful):
        body.append(f"self._defaults[{k}][0] = r[{n_out + n_upd + j}]")
    if fn._single:
        body.append("return r[0]")
    elif fn._has_updates:
        body.append(f"return [{''.join(f'r[{j}], ' for j in range(n_out))}]")
    else:
        body.append("return list(r)")
    lines += [pad + line for line in body]
    if n_locks:
        lines += ["    finally:", "        " + "; ".join(f"r{j}()" for j in reversed(range(n_locks)))]
    return "\n".join(lines) + "\n"


class _Missing:
    def __repr__(self):
        return "<missing>"


_MISSING = _Missing()
