"""Running a ``%%symgraph`` cell: plain Python over a namespace, no IPython here.

``run_cell(source, namespace, options)`` executes the cell with nbgrad's names
available, finds the symbolic results it defined, compiles them into one
function and returns a :class:`CellResult` with what to bind and what to show.
The namespace is only changed once everything succeeded.

A result is a derived variable or a list or tuple of them, possibly nested
(``grad(z, [x, y])``, ``hessian(cost, [a, b])``, ``jacobian(y, [a, b])``): its
variables are compiled together with the others, and the bound function gives
them back grouped as the cell assigned them. The entries of a list are
labelled by what computed them (``∂z/∂x``, ``∂²z/∂x²``) when the cell assigned
the list straight from ``grad``, ``hessian`` or ``jacobian``, else by position
(``gz[0]``).
"""

import ast
import builtins
import itertools
import linecache
import types
from dataclasses import dataclass, field

import numpy as np

import nbgrad
import nbgrad.tensor as T
from nbgrad.compile import SharedVariable, TensorSharedVariable
from nbgrad.graph import Constant, Variable, graph_inputs

from nbgrad_magics.errors import OptionError, SymgraphError
from nbgrad_magics.grouped import GroupedFunction, leaves

__all__ = ["CellOptions", "CellResult", "cell_names", "parse_ranges", "run_and_show", "run_cell"]

SHOW_CHOICES = ("formula", "graph", "source", "none")

_cell_ids = itertools.count(1)


@dataclass
class CellOptions:
    """What ``%%symgraph`` was asked to do (the magic's options, parsed).

    Parameters
    ----------
    name : str, optional
        Bind the compiled function to this name.
    backend : {'cpu', 'gpu'}, optional
    outputs : list of str, optional
        Names of the results to compile (default: every derived quantity the cell assigned,
        and every list or tuple of them).
    optimize : bool
        Apply the graph rewrites (``False`` compiles with ``mode='FAST_COMPILE'`` and shows
        the formulas as written).
    show : list of str
        Any of ``formula``, ``graph``, ``source``; ``none`` shows nothing.
    widgets : bool
        Add sliders for the scalar inputs and the random seeds.
    ranges : dict
        ``{input name: (low, high)}`` for the sliders.
    """

    name: str = None
    backend: str = None
    outputs: list = None
    optimize: bool = True
    show: list = field(default_factory=lambda: ["formula"])
    widgets: bool = False
    ranges: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.name is not None and not self.name.isidentifier():
            raise OptionError(f"the function name {self.name!r} is not a valid Python identifier")
        if self.backend not in (None, "cpu", "gpu"):
            raise OptionError(f"--backend must be 'cpu' or 'gpu', got {self.backend!r}")
        if isinstance(self.show, str):
            self.show = [s.strip() for s in self.show.split(",") if s.strip()]
        bad = [s for s in self.show if s not in SHOW_CHOICES]
        if bad:
            raise OptionError(f"--show takes {', '.join(SHOW_CHOICES)} (comma-separated), got {bad[0]!r}")
        if "none" in self.show:
            self.show = []
        if isinstance(self.outputs, str):
            self.outputs = [s.strip() for s in self.outputs.split(",") if s.strip()]
            if not self.outputs:
                raise OptionError("--outputs needs at least one name, e.g. --outputs y,gy")
        if isinstance(self.ranges, (list, tuple)):
            self.ranges = parse_ranges(self.ranges)


def parse_ranges(specs):
    """Parse slider ranges written as ``name=low:high``.

    Examples
    --------
    >>> parse_ranges(["x=-3:3", "t=0:1.5"])
    {'x': (-3.0, 3.0), 't': (0.0, 1.5)}
    """
    out = {}
    for spec in specs or ():
        name, eq, rng = spec.partition("=")
        lo, colon, hi = rng.partition(":")
        try:
            if not (eq and colon and name.strip().isidentifier()):
                raise ValueError
            low, high = float(lo), float(hi)
        except ValueError:
            raise OptionError(f"--range takes name=low:high (e.g. x=-3:3), got {spec!r}") from None
        if not low < high:
            raise OptionError(f"--range {spec!r}: low must be smaller than high")
        out[name.strip()] = (low, high)
    return out


def _whole_hessian(hessian):
    """``hessian`` as a cell sees it: with respect to several scalars, the whole matrix.

    ``nbgrad.gradient.hessian(z, [x, y])`` follows Theano and gives one Hessian per
    variable (here ∂²z/∂x² and ∂²z/∂y²); for scalars a teacher means the 2 × 2 matrix,
    cross terms included, so the cell gets its rows (shown as one matrix, returned as a
    list of rows). Anything else is ``hessian`` itself.
    """

    def whole_hessian(cost, wrt, consider_constant=None, disconnected_inputs="raise"):
        from nbgrad.gradient import grad

        if (isinstance(wrt, (list, tuple)) and len(wrt) > 1
                and all(isinstance(w, Variable) and w.ndim == 0 for w in wrt)):
            firsts = grad(cost, list(wrt), consider_constant=consider_constant,
                          disconnected_inputs=disconnected_inputs)
            return [[grad(g, w, consider_constant=consider_constant, disconnected_inputs="ignore")
                     for w in wrt] for g in firsts]
        return hessian(cost, wrt, consider_constant=consider_constant,
                       disconnected_inputs=disconnected_inputs)

    whole_hessian.__wrapped__ = hessian
    whole_hessian.__doc__ = _whole_hessian.__doc__
    return whole_hessian


def cell_names():
    """The names a ``%%symgraph`` cell can use without importing them.

    Every public name of ``nbgrad.tensor`` except those that would hide a Python
    builtin (``sum``, ``max``, ``abs``, ... stay Python's; use ``T.sum``), plus
    ``T``, ``nbgrad``, ``grad``, ``jacobian``, ``hessian``, ``Rop``, ``Lop``,
    ``shared``, ``function``, ``In``, ``Out``, ``pp``, ``latex``, ``scan`` and
    ``RandomStreams`` (the last two when available).

    Examples
    --------
    >>> names = cell_names()
    >>> all(n in names for n in ("dscalar", "exp", "grad", "hessian", "shared", "function"))
    True
    >>> "sum" in names
    False
    """
    from nbgrad.gradient import Lop, Rop, grad, hessian, jacobian
    from nbgrad.printing import latex, pp

    names = {
        n: getattr(T, n) for n in T.__all__
        if not hasattr(builtins, n) and not isinstance(getattr(T, n), types.ModuleType)
    }
    names.update(
        T=T, nbgrad=nbgrad, grad=grad, jacobian=jacobian, hessian=_whole_hessian(hessian), Rop=Rop, Lop=Lop,
        shared=nbgrad.shared, function=nbgrad.function, In=nbgrad.In, Out=nbgrad.Out,
        pp=pp, latex=latex,
    )
    try:
        names["scan"] = nbgrad.scan
    except (ImportError, AttributeError):
        pass
    streams = _random_streams_class()
    if streams is not None:
        names["RandomStreams"] = streams
    return names


def _random_streams_class():
    """``nbgrad.random.RandomStreams``, or None where the random module is not available."""
    try:
        from nbgrad.random import RandomStreams
    except ImportError:
        return None
    return RandomStreams


@dataclass
class CellResult:
    """What a ``%%symgraph`` cell produced.

    Attributes
    ----------
    function : nbgrad Function or None
        The compiled function of the inputs to the variables of the outputs, in order
        (None if the cell defined no results).
    bound : nbgrad Function, GroupedFunction or None
        What the magic binds to its name: ``function``, or when a result is a list or
        tuple, a :class:`GroupedFunction` that groups its outputs as the cell did.
    inputs : list of (name, Variable)
        In definition order.
    outputs : list of (name, value)
        In definition order, as written by the user: each value a Variable or a
        (nested) list or tuple of Variables.
    labels : dict
        ``{name: [(text, LaTeX), ...]}``: a label for each variable of a list or tuple result.
    assigned : dict
        Every name the cell bound (to commit into the namespace), in the order bound.
    deleted : list of str
        Names the cell deleted.
    shared : list of (name, SharedVariable)
        Shared variables the cell created, changed or compiled against.
    streams : list of (name, RandomStreams)
        Random streams the cell created or used.
    """

    function: object = None
    bound: object = None
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    labels: dict = field(default_factory=dict)
    assigned: dict = field(default_factory=dict)
    deleted: list = field(default_factory=list)
    shared: list = field(default_factory=list)
    streams: list = field(default_factory=list)
    options: CellOptions = None

    def commit(self, namespace):
        """Bind the cell's names (and the compiled function) into ``namespace``."""
        for k in self.deleted:
            namespace.pop(k, None)
        namespace.update(self.assigned)
        if self.bound is not None and self.options.name:
            namespace[self.options.name] = self.bound


def run_cell(source, namespace, options=None):
    """Run the source of a ``%%symgraph`` cell against ``namespace`` and compile its results.

    The cell sees ``namespace`` plus :func:`cell_names`; the names it binds are
    returned (``result.assigned``) and written to ``namespace`` only by
    ``result.commit``. If the cell or compilation fails, shared variables get
    their values back and :class:`SymgraphError` is raised.

    Examples
    --------
    >>> ns = {}
    >>> res = run_cell("x = dscalar('x')\\ny = x ** 2\\ngy = grad(y, x)", ns, CellOptions(name="f"))
    >>> [n for n, _ in res.inputs], [n for n, _ in res.outputs]
    (['x'], ['y', 'gy'])
    >>> ns
    {}
    >>> res.commit(ns)
    >>> [float(v) for v in ns["f"](x=3.0)]
    [9.0, 6.0]
    >>> sorted(ns)
    ['f', 'gy', 'x', 'y']
    """
    options = options or CellOptions()
    before = dict(namespace)
    saved = _save_shared(before.values())
    filename = f"<symgraph-cell-{next(_cell_ids)}>"
    lines = source.splitlines(keepends=True)
    linecache.cache[filename] = (len(source), None, lines, filename)
    injected = cell_names()
    ns = dict(injected)
    ns.update(namespace)
    ns.setdefault("__builtins__", builtins)
    try:
        tree = ast.parse(source, filename)
    except SyntaxError as exc:
        raise SymgraphError("in the cell", exc, exc.lineno, exc.text) from exc
    try:
        exec(compile(tree, filename, "exec"), ns)
        result = _collect(ns, before, injected, tree, options, saved)
    except SymgraphError:
        _restore_shared(saved)
        raise
    except Exception as exc:
        _restore_shared(saved)
        lineno = _cell_lineno(exc, filename)
        stage = "in the cell" if lineno is not None else "while compiling the cell's results"
        line = lines[lineno - 1] if lineno is not None and lineno <= len(lines) else None
        raise SymgraphError(stage, exc, lineno, line) from exc
    return result


def _cell_lineno(exc, filename):
    lineno = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            lineno = tb.tb_lineno
        tb = tb.tb_next
    if lineno is None:
        # errors raised while building a node carry the user's line in its trace
        trace = getattr(getattr(exc, "node", None), "tag", None)
        trace = getattr(trace, "trace", None)
        if trace and trace[0] == filename:
            lineno = trace[1]
    return lineno


def _save_shared(values):
    return [(v, v.get_value()) for v in values if isinstance(v, SharedVariable)]


def _restore_shared(saved):
    for v, value in saved:
        v.set_value(value)


def _store_order(tree):
    """Names in the order the cell first binds them."""
    order = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            key = (node.lineno, node.col_offset)
            if node.id not in order or key < order[node.id]:
                order[node.id] = key
    return order


def _collect(ns, before, injected, tree, options, saved):
    order = _store_order(tree)
    missing = object()
    assigned = {}
    for k, v in ns.items():
        if k == "__builtins__":
            continue
        old = before.get(k, missing)
        if old is v or (old is missing and injected.get(k, missing) is v):
            continue
        assigned[k] = v
    deleted = [k for k in before if k not in ns]
    names_in_order = sorted(assigned, key=lambda k: order.get(k, (float("inf"), 0)))
    assigned = {k: assigned[k] for k in names_in_order}

    if options.outputs is not None:
        outputs = []
        for k in options.outputs:
            v = ns.get(k)
            vs = leaves(v)
            if not vs or any(isinstance(u, (Constant, SharedVariable)) for u in vs):
                what = "not defined" if k not in ns else f"a {type(v).__name__}, not a symbolic result"
                raise SymgraphError(
                    f"--outputs names {k!r}, which is {what}; name variables, or lists or "
                    "tuples of variables, that the cell computes"
                )
            outputs.append((k, v))
    else:
        # a derived quantity, or a list or tuple of them (grad(z, [x, y])); a list
        # holding inputs or shared variables (params, updates) is not a result
        outputs = [(k, v) for k, v in assigned.items()
                   if leaves(v) and all(u.owner is not None for u in leaves(v))]

    # random generator states are shown with their RandomStreams, not as shared arrays
    shared = [(k, v) for k, v in assigned.items() if isinstance(v, TensorSharedVariable)]
    changed = {id(v) for v, old in saved
               if isinstance(old, np.ndarray) and not np.array_equal(v.get_value(), old)}
    shared += [(k, v) for k, v in before.items()
               if id(v) in changed and k not in assigned and isinstance(v, SharedVariable)]
    streams_cls = _random_streams_class()
    streams = []
    if streams_cls is not None:
        streams = [(k, v) for k, v in ns.items()
                   if isinstance(v, streams_cls) and (k in assigned or _uses_stream(v, outputs))]

    result = CellResult(inputs=[], outputs=outputs, assigned=assigned, deleted=deleted,
                        shared=shared, streams=streams, options=options)
    if not outputs:
        if options.name:
            raise SymgraphError(
                f"the cell defines no symbolic results to compile into {options.name!r}; "
                "assign one, e.g. y = x ** 2"
            )
        return result

    outs = [u for _, v in outputs for u in leaves(v)]
    grouped = any(not isinstance(v, Variable) for _, v in outputs)
    result.labels = _labels(outputs, tree, ns)
    result.inputs = _infer_inputs(outs, ns, assigned, before)
    ins = [nbgrad.In(v, name=n) for n, v in result.inputs]
    result.function = nbgrad.function(
        ins, outs if grouped or len(outs) > 1 else outs[0],
        mode=None if options.optimize else "FAST_COMPILE",
        backend=options.backend, name=options.name, on_unused_input="ignore",
    )
    result.bound = result.function
    if grouped:
        values = [v for _, v in outputs]
        result.bound = GroupedFunction(result.function, values[0] if len(values) == 1 else values)
    for v in result.function.maker.shared_vars:
        if isinstance(v, TensorSharedVariable) and all(v is not s for _, s in shared):
            result.shared.append((_name_of(v, ns), v))
    return result


def _uses_stream(stream, outputs):
    states = _stream_states(stream)
    if not states:
        return False
    from nbgrad.graph import ancestors

    anc = set(ancestors([u for _, v in outputs for u in leaves(v)]))
    return any(s in anc for s in states)


def _stream_states(stream):
    """The shared random states of a RandomStreams, as far as its API tells."""
    states = []
    for u in getattr(stream, "state_updates", None) or ():
        s = u[0] if isinstance(u, (tuple, list)) else u
        states.append(s)
    return states


_DERIVATIVES = {"grad": 1, "jacobian": 1, "hessian": 2}


def _labels(outputs, tree, ns):
    """``{name: [(text, LaTeX), ...]}`` for each list or tuple result (see the module docstring),
    and for each single variable the cell assigned straight from ``grad``, ``jacobian`` or
    ``hessian`` (one label: what was differentiated, with respect to what)."""
    from nbgrad_magics.display import derivative_label, index_label

    calls = _derivative_calls(tree, ns)
    labels = {}
    for name, value in outputs:
        call = calls.get(name)
        if isinstance(value, Variable):
            if call is not None and call.single and call.wrt[0]:
                labels[name] = [derivative_label(call.f, call.wrt * call.order, call.expression)]
            continue
        paths = _paths(value)
        if (call is not None and not call.single and len(call.wrt) == len(paths)
                and all(len(p) == 1 for p in paths)):
            labels[name] = [derivative_label(call.f, (w,) * call.order, call.expression) if w
                            else index_label(name, p) for w, p in zip(call.wrt, paths)]
        else:
            labels[name] = [index_label(name, p) for p in paths]
    return labels


def _paths(value, prefix=()):
    """The index path of each variable of a (nested) list or tuple, in order."""
    if isinstance(value, Variable):
        return [prefix]
    return [p for k, item in enumerate(value) for p in _paths(item, prefix + (k,))]


@dataclass
class _DerivativeCall:
    """``name = grad|jacobian|hessian(f, wrt)`` as the cell wrote it."""

    f: str  # the name differentiated, or the source of the expression (``expression``)
    expression: bool
    wrt: list  # the name of each variable differentiated against (None where it has none)
    order: int
    single: bool  # wrt is one variable (the result is one variable, not a list)


def _derivative_calls(tree, ns):
    """``{name: _DerivativeCall}`` for each ``name = grad|jacobian|hessian(f, wrt)`` of the cell.

    Only the last binding of a name counts.
    """
    from nbgrad import gradient

    last = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            last[node.id] = max(last.get(node.id, (0, 0)), (node.lineno, node.col_offset))
    calls = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Call)):
            continue
        target = node.targets[0]
        if (target.lineno, target.col_offset) != last[target.id]:
            continue  # the cell binds the name again later
        call = node.value
        kind = _called(call.func, ns, gradient)
        if kind is None:
            continue
        args = list(call.args) + [None] * 2
        keywords = {k.arg: k.value for k in call.keywords}
        f = args[0] if args[0] is not None else keywords.get("expression" if kind == "jacobian" else "cost")
        wrt = args[1] if args[1] is not None else keywords.get("wrt")
        if f is None:
            continue
        single = isinstance(wrt, ast.Name) and isinstance(ns.get(wrt.id), Variable)
        names = [wrt.id] if single else _wrt_names(wrt, ns)
        if names is None:
            continue
        expression = not isinstance(f, ast.Name)
        calls[target.id] = _DerivativeCall(ast.unparse(f) if expression else f.id, expression,
                                           names, _DERIVATIVES[kind], single)
    return calls


def _called(func, ns, gradient):
    """``'grad'``, ``'jacobian'`` or ``'hessian'`` if ``func`` names nbgrad's function, else None."""
    if isinstance(func, ast.Name):
        name, obj = func.id, ns.get(func.id)
    elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        name, obj = func.attr, getattr(ns.get(func.value.id), func.attr, None)
    else:
        return None
    if name in _DERIVATIVES and getattr(obj, "__wrapped__", obj) is getattr(gradient, name):
        return name
    return None


def _wrt_names(wrt, ns):
    """The names of the variables differentiated against (None for an entry that has none)."""
    if isinstance(wrt, (ast.List, ast.Tuple)):
        return [e.id if isinstance(e, ast.Name) else None for e in wrt.elts]
    if isinstance(wrt, ast.Name) and isinstance(ns.get(wrt.id), (list, tuple)):
        return [_binding_name(v, ns) for v in ns[wrt.id]]
    return None


def _binding_name(var, ns):
    for k, v in ns.items():
        if v is var and not k.startswith("_"):
            return k
    return getattr(var, "name", None)


def _name_of(var, ns):
    for k, v in ns.items():
        if v is var:
            return k
    return str(var)


def _infer_inputs(outputs, ns, assigned, before):
    roots = [v for v in graph_inputs(outputs)
             if not isinstance(v, (Constant, SharedVariable))]
    pos = {}
    for rank, (k, v) in enumerate(itertools.chain(assigned.items(), before.items())):
        if isinstance(v, Variable):
            pos.setdefault(v, (rank, k))
    ranked = sorted(range(len(roots)), key=lambda i: (pos.get(roots[i], (len(pos) + i,))[0], i))
    inputs = []
    for i in ranked:
        v = roots[i]
        name = v.name if v.name is not None else pos.get(v, (None, None))[1]
        inputs.append((name, v))
    return inputs


def run_and_show(source, namespace, options):
    """Run a cell, commit its names, and return ``[(object, raw)]`` to display.

    ``raw=True`` items are MIME bundles, the others objects with their own display
    (the widgets). Raises :class:`SymgraphError` or :class:`OptionError`, with
    ``namespace`` untouched.

    Examples
    --------
    >>> ns = {}
    >>> shown = run_and_show("x = dscalar('x')\\ny = 3 * x", ns, CellOptions(name="f"))
    >>> shown[0][0]["text/plain"]
    'y = 3 * x'
    >>> float(ns["f"](2.0))
    6.0
    """
    from nbgrad_magics.display import result_bundles

    result = run_cell(source, namespace, options)
    widget = None
    if options.widgets:
        widget = _explorer(result)
    elif options.ranges:
        raise OptionError("--range sets slider ranges; add --widgets to get sliders")
    # with seed sliders the streams show in the widget, where moving a slider updates them
    shown = [(b, True) for b in result_bundles(result, streams=widget is None or not widget.seeds)]
    result.commit(namespace)
    if widget is not None:
        shown.append((widget, False))
    return shown


def _explorer(result):
    from nbgrad_magics.widgets import interact

    f = result.function
    if f is None:
        raise OptionError("--widgets needs a symbolic result to evaluate; the cell defines none")
    scalar = {n for n, v in result.inputs if v.type.ndim == 0}
    for name in result.options.ranges:
        if name not in scalar:
            raise OptionError(
                f"--range {name}=...: {name!r} is not a scalar input of the cell's results "
                f"(those are {sorted(scalar)})"
            )
    names = []
    for name, value in result.outputs:
        grouped = name in result.labels and not isinstance(value, Variable)
        names += [text for text, _ in result.labels[name]] if grouped else [name]
    scalar_outputs = all(u.type.ndim == 0 for _, v in result.outputs for u in leaves(v))
    plot = None
    if scalar_outputs and not result.streams and result.inputs and result.inputs[0][1].type.ndim == 0:
        plot = result.inputs[0][0]
    return interact(f, streams=result.streams or None, plot=plot, names=names,
                    **result.options.ranges)
