"""Symbolic differentiation: ``grad``, ``Lop``, ``Rop``, ``jacobian``, ``hessian``.

Reverse mode (``grad``, ``Lop``) walks the graph backwards once and asks each
op for its vector-Jacobian product (``Op.L_op``); forward mode (``Rop``) walks
it forwards and asks each op for its Jacobian-vector product (``Op.R_op``).
Both build more graph, so results can be differentiated again and optimized.

"No gradient" has three distinct, explicit forms: a *disconnected* input (the
output does not depend on it), an *undefined* gradient (``grad_undefined``)
and a *not implemented* one (``grad_not_implemented``); the last two are
``NullType`` variables carrying a message that names the op.
"""

import warnings

import numpy as np

from nbgrad.config import config
from nbgrad.graph.basic import Apply, Variable

# The "no gradient" values live with the graph, where op files use them; they are
# re-exported here under the names Theano code imports them by.
from nbgrad.graph.nograd import (  # noqa: F401
    DisconnectedType,
    NullType,
    disconnected_type,
    grad_not_implemented,
    grad_undefined,
    is_symbolic_zero,
    rop_not_implemented,
)
from nbgrad.graph.op import Op
from nbgrad.graph.traversal import ancestors, io_toposort
from nbgrad.tensor.basic import as_tensor_variable
from nbgrad.tensor.math import symbolic_zero, clip, ones_like, zeros_like, cast
from nbgrad.tensor.type import TensorType, discrete_dtypes

__all__ = [
    "grad", "Lop", "Rop", "jacobian", "hessian", "verify_grad", "zero_grad",
    "disconnected_grad", "consider_constant", "grad_clip", "grad_scale",
    "grad_undefined", "grad_not_implemented", "disconnected_type",
    "DisconnectedInputError", "NullTypeGradError", "GradientError",
]


class DisconnectedInputError(ValueError):
    """Raised when a ``wrt`` variable is not part of the cost's graph."""


class NullTypeGradError(TypeError):
    """Raised when a requested gradient is undefined or not implemented."""


class GradientError(Exception):
    """Raised by ``verify_grad`` when symbolic and numeric gradients disagree."""

    def __init__(self, arg, err_pos, abs_err, rel_err, abs_tol, rel_tol, analytic=None, numeric=None):
        super().__init__()
        self.arg, self.err_pos = arg, err_pos
        self.abs_err, self.rel_err = abs_err, rel_err
        self.abs_tol, self.rel_tol = abs_tol, rel_tol
        self.analytic, self.numeric = analytic, numeric

    def __str__(self):
        return (
            f"symbolic and finite-difference gradients disagree for input {self.arg} at flat "
            f"position {self.err_pos}: abs error {self.abs_err:.3g} (tolerance {self.abs_tol:.3g}), "
            f"rel error {self.rel_err:.3g} (tolerance {self.rel_tol:.3g})\n"
            f"  symbolic: {self.analytic}\n  numeric:  {self.numeric}"
        )


# ------------------------------------------------------------ gradient-only ops
class _GradientOp(Op):
    """Identity in the forward pass; changes only what flows back."""

    view_map = {0: [0]}

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, xp):
        return inputs[0]

    def make_thunk(self, node, xp):
        return lambda x: x

    def infer_shape(self, fgraph, node, input_shapes):
        return input_shapes

    def R_op(self, inputs, eval_points):
        return [eval_points[0]]

    def vectorize_node(self, node, inputs):
        """Elementwise identity: the same op on the batch."""
        return self.make_node(*inputs).outputs


class ZeroGrad(_GradientOp):
    """Stop-gradient: forward identity, zero gradient (and zero tangent)."""

    def L_op(self, inputs, outputs, output_grads):
        return [symbolic_zero(inputs[0])]

    def R_op(self, inputs, eval_points):
        return [None]


class DisconnectedGrad(_GradientOp):
    """Forward identity; the input counts as disconnected for differentiation."""

    def L_op(self, inputs, outputs, output_grads):
        return [disconnected_type()]

    def R_op(self, inputs, eval_points):
        return [None]


class ConsiderConstant(ZeroGrad):
    """``consider_constant(x)``: x is treated as a constant by ``grad``."""


class GradClip(_GradientOp):
    """Forward identity; the gradient is clipped to ``[lower, upper]``."""

    __props__ = ("lower", "upper")

    def __init__(self, lower, upper):
        if lower > upper:
            raise ValueError(f"grad_clip: lower bound {lower} exceeds upper bound {upper}")
        self.lower, self.upper = float(lower), float(upper)

    def L_op(self, inputs, outputs, output_grads):
        return [clip(output_grads[0], self.lower, self.upper)]


class GradScale(_GradientOp):
    """Forward identity; the gradient is multiplied by ``multiplier``."""

    __props__ = ("multiplier",)

    def __init__(self, multiplier):
        self.multiplier = float(multiplier)

    def L_op(self, inputs, outputs, output_grads):
        return [output_grads[0] * self.multiplier]


def zero_grad(x):
    """``x`` in the forward pass, a zero gradient in the backward pass."""
    return ZeroGrad()(x)


def disconnected_grad(x):
    """``x`` in the forward pass; gradients do not flow through it (disconnected)."""
    return DisconnectedGrad()(x)


def consider_constant(x):
    """``x`` in the forward pass; ``grad`` treats it as a constant (a zero gradient)."""
    return ConsiderConstant()(x)


def grad_clip(x, lower_bound, upper_bound):
    """``x`` in the forward pass; its gradient is clipped to ``[lower_bound, upper_bound]``."""
    return GradClip(lower_bound, upper_bound)(x)


def grad_scale(x, multiplier):
    """``x`` in the forward pass; its gradient is multiplied by ``multiplier``."""
    return GradScale(multiplier)(x)


# ------------------------------------------------------------------ reverse mode
def _as_list(x):
    if isinstance(x, (list, tuple)):
        return list(x), True
    return [x], False


def _connected_vars(wrt, outputs, blockers):
    """Variables between ``wrt`` and ``outputs`` that depend on some wrt (through non-blockers)."""
    wrt_ids = set(map(id, wrt))
    block = set(map(id, blockers))
    nodes = io_toposort(list(wrt), outputs)
    dep = set(wrt_ids)
    for node in nodes:
        if any(id(i) in dep and id(i) not in block for i in node.inputs):
            for o in node.outputs:
                dep.add(id(o))
    return dep, nodes


def grad(cost, wrt, consider_constant=None, disconnected_inputs="raise", add_names=True,
         known_grads=None, return_disconnected="zero", null_gradients="raise"):
    """Symbolic gradient of the scalar ``cost`` with respect to ``wrt``.

    Parameters
    ----------
    cost : scalar Variable, or None when ``known_grads`` is given
    wrt : Variable or list of Variables
    consider_constant : list of Variables, optional
        Gradients do not flow through these.
    disconnected_inputs : {'raise', 'warn', 'ignore'}
        What to do when a ``wrt`` variable is not part of the cost's graph.
    known_grads : dict, optional
        ``{variable: gradient}`` to start back-propagation from (as in ``Lop``).
    return_disconnected : {'zero', 'None', 'Disconnected'}
        What to return for a disconnected ``wrt``.
    null_gradients : {'raise', 'return'}
        Raise, or return the NullType variable, for undefined gradients.

    Returns
    -------
    A Variable (or a list, if ``wrt`` is a list) with the shape of each ``wrt``.

    Examples
    --------
    >>> import nbgrad.tensor as T
    >>> x = T.dscalar("x")
    >>> T.grad(x ** 2 + x ** 3, x).eval({x: 2.0})
    array(16.)
    """
    if disconnected_inputs not in ("raise", "warn", "ignore"):
        raise ValueError(f"disconnected_inputs must be 'raise', 'warn' or 'ignore', got {disconnected_inputs!r}")
    wrt_list, is_list = _as_list(wrt)
    for w in wrt_list:
        if not isinstance(w, Variable):
            raise TypeError(f"grad: wrt must be symbolic variables, got {type(w).__name__} {w!r}")
    known_grads = dict(known_grads or {})
    if cost is None and not known_grads:
        raise ValueError("grad: give a cost, or known_grads to start from")
    start = {}
    if cost is not None:
        cost = as_tensor_variable(cost)
        if cost.ndim != 0:
            raise TypeError(
                f"grad: the cost must be a scalar, but {cost} has {cost.ndim} dimension(s) "
                f"({cost.type}). Reduce it first (e.g. cost.sum()), or use "
                "nbgrad.gradient.jacobian for all partial derivatives, or Lop for a "
                "vector-Jacobian product"
            )
        # An integer-valued cost starts from float ones; the ops that made it
        # integer (argmax, comparisons, casts) report their inputs disconnected.
        start[cost] = ones_like(cost, dtype=config.floatX if cost.dtype in discrete_dtypes else None)
    for var, g in known_grads.items():
        g = as_tensor_variable(g)
        if g.ndim != var.ndim:
            raise ValueError(
                f"known_grads: the gradient given for {var} has {g.ndim} dimension(s), expected {var.ndim}"
            )
        start[var] = g
    grads = _backprop(list(start.items()), wrt_list, list(consider_constant or []))
    results = []
    for w in wrt_list:
        g = grads.get(w)
        if g is None or isinstance(g.type, DisconnectedType):
            g = _disconnected_result(w, disconnected_inputs, return_disconnected)
        elif isinstance(g.type, NullType):
            if null_gradients == "raise":
                raise NullTypeGradError(f"grad: {g.type.why_null}")
        elif add_names and g.name is None and w.name is not None:
            label = cost.name if cost is not None and cost.name else "cost"
            g.name = f"(d{label}/d{w.name})"
        results.append(g)
    return results if is_list else results[0]


def _disconnected_result(w, disconnected_inputs, return_disconnected):
    if isinstance(w.type, TensorType) and w.type.dtype in discrete_dtypes:
        return zeros_like(w, dtype=config.floatX)
    msg = (
        f"grad: the cost does not depend on {w} (it is not part of the computational graph of "
        "the cost, or only through a non-differentiable operation). Pass "
        "disconnected_inputs='ignore' to get a zero gradient instead"
    )
    if disconnected_inputs == "raise":
        raise DisconnectedInputError(msg)
    if disconnected_inputs == "warn":
        warnings.warn(msg, stacklevel=3)
    if return_disconnected == "None":
        return None
    if return_disconnected == "Disconnected":
        return disconnected_type()
    return zeros_like(w)


def _backprop(start, wrt, blockers):
    """Accumulate gradients from ``start`` ([(var, grad)]) down to ``wrt``."""
    outputs = [v for v, _ in start]
    dep, nodes = _connected_vars(wrt, outputs, blockers)
    block = set(map(id, blockers))
    contribs = {}
    for v, g in start:
        contribs.setdefault(v, []).append(g)
    total = {}

    def summed(v):
        if v in total:
            return total[v]
        parts = contribs.get(v)
        if not parts:
            total[v] = None
            return None
        nulls = [p for p in parts if isinstance(p.type, NullType)]
        if nulls:
            total[v] = nulls[0]
            return nulls[0]
        # a symbolic zero adds nothing: leave it out, so that it never meets an inf
        parts = [p for p in parts if not is_symbolic_zero(p)] or parts[:1]
        s = parts[0]
        for p in parts[1:]:
            s = s + p
        total[v] = s
        return s

    for node in reversed(nodes):
        ograds = [summed(o) for o in node.outputs]
        if all(g is None for g in ograds):
            continue
        if not any(id(i) in dep and id(i) not in block for i in node.inputs):
            continue
        if any(g is not None and isinstance(g.type, NullType) for g in ograds):
            null = next(g for g in ograds if g is not None and isinstance(g.type, NullType))
            for i in node.inputs:
                if id(i) in dep:
                    contribs.setdefault(i, []).append(null)
            continue
        if all(g is None or is_symbolic_zero(g) for g in ograds):
            # ḡ = 0 exactly: every input's gradient is 0, without the op's rule, whose
            # factors may be inf where the zero came from a branch not taken (sign, switch)
            for i in node.inputs:
                if (id(i) in dep and id(i) not in block and isinstance(i.type, TensorType)
                        and i.dtype not in discrete_dtypes):
                    contribs.setdefault(i, []).append(symbolic_zero(i))
            continue
        if len(ograds) > 1:
            ograds = [
                zeros_like(o) if g is None and isinstance(o.type, TensorType) else g
                for o, g in zip(node.outputs, ograds)
            ]
        ograds = [
            _cast_like(g, o) if g is not None and isinstance(o.type, TensorType) else g
            for g, o in zip(ograds, node.outputs)
        ]
        igrads = node.op.L_op(list(node.inputs), list(node.outputs), ograds)
        if len(igrads) != len(node.inputs):
            raise ValueError(
                f"{node.op}.L_op returned {len(igrads)} gradient(s) for {len(node.inputs)} input(s)"
            )
        for i, (inp, g) in enumerate(zip(node.inputs, igrads)):
            if id(inp) not in dep or id(inp) in block:
                continue
            if g is None:
                raise TypeError(
                    f"{node.op}.L_op returned None for input {i}; return disconnected_type(), "
                    "grad_undefined(...) or grad_not_implemented(...) to say 'no gradient'"
                )
            if isinstance(g.type, DisconnectedType):
                continue
            if isinstance(g.type, TensorType) and isinstance(inp.type, TensorType):
                if inp.dtype in discrete_dtypes:
                    continue
                if g.ndim != inp.ndim:
                    raise ValueError(
                        f"{node.op}.L_op returned a gradient of {g.ndim} dimension(s) for input {i} "
                        f"({inp}), which has {inp.ndim}"
                    )
            contribs.setdefault(inp, []).append(g)
    return {w: summed(w) for w in wrt}


def _cast_like(g, o):
    if o.dtype in discrete_dtypes or g.dtype == o.dtype:
        return g
    return cast(g, o.dtype)


def Lop(f, wrt, eval_points, consider_constant=None, disconnected_inputs="raise"):
    """Vector-Jacobian product vᵀ·∂f/∂wrt (reverse mode).

    ``f`` and ``eval_points`` may be lists of matching length; so may ``wrt``
    (then a list is returned).
    """
    f_list, _ = _as_list(f)
    ev_list, _ = _as_list(eval_points)
    if len(f_list) != len(ev_list):
        raise ValueError(f"Lop: {len(f_list)} output(s) but {len(ev_list)} eval point(s)")
    known = {}
    for fi, ev in zip(f_list, ev_list):
        fi = as_tensor_variable(fi)
        ev = as_tensor_variable(ev)
        if ev.ndim != fi.ndim:
            raise ValueError(f"Lop: eval point {ev} has {ev.ndim} dimension(s) but {fi} has {fi.ndim}")
        known[fi] = ev
    return grad(None, wrt, known_grads=known, consider_constant=consider_constant,
                disconnected_inputs=disconnected_inputs)


# ------------------------------------------------------------------ forward mode
def Rop(f, wrt, eval_points, disconnected_outputs="raise", return_disconnected="zero"):
    """Jacobian-vector product ∂f/∂wrt · v (forward mode, from each op's R_op).

    >>> import nbgrad.tensor as T
    >>> x, v = T.dvectors("x", "v")
    >>> T.Rop(x ** 2, x, v).eval({x: [1.0, 2.0], v: [1.0, 1.0]})
    array([2., 4.])
    """
    f_list, f_is_list = _as_list(f)
    wrt_list, _ = _as_list(wrt)
    ev_list, _ = _as_list(eval_points)
    if len(wrt_list) != len(ev_list):
        raise ValueError(f"Rop: {len(wrt_list)} wrt variable(s) but {len(ev_list)} eval point(s)")
    tangents = {}
    for w, ev in zip(wrt_list, ev_list):
        ev = as_tensor_variable(ev)
        if ev.ndim != w.ndim:
            raise ValueError(
                f"Rop: eval point {ev} ({ev.type}) must have the shape of {w} ({w.type})"
            )
        if ev.dtype != w.dtype:
            ev = cast(ev, w.dtype)
        tangents[w] = ev
    f_list = [as_tensor_variable(fi) for fi in f_list]
    for node in io_toposort(wrt_list, f_list):
        evs = [tangents.get(i) for i in node.inputs]
        if all(e is None for e in evs):
            continue
        outs = node.op.R_op(list(node.inputs), evs)
        if len(outs) != len(node.outputs):
            raise ValueError(f"{node.op}.R_op returned {len(outs)} value(s) for {len(node.outputs)} output(s)")
        for o, t in zip(node.outputs, outs):
            if t is not None:
                tangents[o] = _cast_like(t, o)
    if disconnected_outputs not in ("raise", "warn", "ignore"):
        raise ValueError(f"disconnected_outputs must be 'raise', 'warn' or 'ignore', got {disconnected_outputs!r}")
    results = []
    for fi in f_list:
        t = tangents.get(fi)
        if t is None:
            wrt_ids = set(map(id, wrt_list))
            if not any(id(a) in wrt_ids for a in ancestors([fi])):
                msg = (f"Rop: {fi} does not depend on any of {wrt_list}. Pass "
                       "disconnected_outputs='ignore' to get a zero tangent instead")
                if disconnected_outputs == "raise":
                    raise DisconnectedInputError(msg)
                if disconnected_outputs == "warn":
                    warnings.warn(msg, stacklevel=2)
            t = None if return_disconnected == "None" else zeros_like(fi)
        results.append(t)
    return results if f_is_list else results[0]


# ------------------------------------------------------------- Jacobian/Hessian
def jacobian(expression, wrt, consider_constant=None, disconnected_inputs="raise", mode="reverse"):
    """The Jacobian of ``expression`` w.r.t. ``wrt``.

    Computed in one vectorized pass, not a loop over output elements: in
    reverse mode the vector-Jacobian product graph is vectorized over the rows
    of an identity matrix; in forward mode the Jacobian-vector product graph
    is vectorized over an identity basis of ``wrt`` (cheaper when ``wrt`` has
    fewer elements than ``expression``).

    Parameters
    ----------
    expression : Variable
        Any shape; a scalar gives the gradient.
    wrt : Variable or list of Variables
    consider_constant : list of Variables, optional
        Gradients do not flow through these (reverse mode).
    disconnected_inputs : {'raise', 'warn', 'ignore'}
        What to do when ``expression`` does not depend on a ``wrt`` variable;
        with 'warn' or 'ignore' its Jacobian is zero.
    mode : {'reverse', 'forward'}

    Returns
    -------
    Variable or list
        For each ``w``, an array of shape ``expression.shape + w.shape``.

    Examples
    --------
    >>> import numpy as np
    >>> import nbgrad.tensor as T
    >>> A, x = T.dmatrix("A"), T.dvector("x")
    >>> J = jacobian(T.dot(A, x), x)
    >>> J.eval({A: [[9.0, 8.0, 7.0], [4.0, 5.0, 6.0]], x: [1.0, 2.0, 3.0]})
    array([[9., 8., 7.],
           [4., 5., 6.]])
    """
    # lazy: upward: nbgrad.vectorize builds on Lop/Rop; jacobian runs its batched pass
    from nbgrad.vectorize import batched_lop, batched_rop

    if mode == "reverse":
        return batched_lop(expression, wrt, consider_constant=consider_constant,
                           disconnected_inputs=disconnected_inputs)
    if mode == "forward":
        if consider_constant:
            raise ValueError("jacobian: consider_constant applies to mode='reverse' only")
        return batched_rop(expression, wrt, disconnected_inputs=disconnected_inputs)
    raise ValueError(f"jacobian: mode must be 'reverse' or 'forward', got {mode!r}")


def hessian(cost, wrt, consider_constant=None, disconnected_inputs="raise"):
    """The Hessian of the scalar ``cost``: ``jacobian(grad(cost, w), w)`` for each ``w``.

    Returns a Variable of shape ``w.shape + w.shape`` for each ``w`` (a list
    if ``wrt`` is a list).

    Examples
    --------
    >>> import nbgrad.tensor as T
    >>> x = T.dvector("x")
    >>> hessian((x ** 2).sum() + x[0] * x[1], x).eval({x: [1.0, 2.0]})
    array([[2., 1.],
           [1., 2.]])
    """
    cost = as_tensor_variable(cost)
    if cost.ndim != 0:
        raise TypeError(
            f"hessian: the cost must be a scalar, but {cost} has {cost.ndim} dimension(s); "
            "reduce it first (e.g. cost.sum()) or use jacobian of jacobian"
        )
    wrt_list, is_list = _as_list(wrt)
    out = []
    for w in wrt_list:
        g = grad(cost, w, consider_constant=consider_constant, disconnected_inputs=disconnected_inputs)
        out.append(jacobian(g, w, consider_constant=consider_constant, disconnected_inputs="ignore"))
    return out if is_list else out[0]


# -------------------------------------------------------------------- checking
def numeric_grad(f, pt, eps=None):
    """Central finite differences of the scalar function ``f`` at the arrays ``pt``."""
    pt = [np.array(p, dtype=float if np.asarray(p).dtype.kind != "f" else np.asarray(p).dtype) for p in pt]
    grads = []
    for p in pt:
        e = eps or (1e-7 if p.dtype == np.float64 else 3e-3)
        g = np.zeros_like(p, dtype=np.float64)
        flat = p.reshape(-1)
        gflat = g.reshape(-1)
        for j in range(flat.size):
            orig = flat[j]
            flat[j] = orig + e
            fp = float(np.sum(f(*pt)))
            flat[j] = orig - e
            fm = float(np.sum(f(*pt)))
            flat[j] = orig
            gflat[j] = (fp - fm) / (2 * e)
        grads.append(g)
    return grads


def verify_grad(fun, pt, n_tests=2, rng=None, eps=None, out_type=None, abs_tol=None,
                rel_tol=None, mode=None, cast_to_output_type=False, no_debug_ref=True):
    """Check ``grad`` of ``fun`` at point ``pt`` against finite differences.

    ``fun`` maps symbolic inputs (one per array in ``pt``) to a symbolic
    output. The output is projected on random directions to a scalar cost;
    the symbolic gradient of that cost is compared with central differences.
    Raises ``GradientError`` (showing both values) when they disagree.

    >>> import numpy as np
    >>> import nbgrad.tensor as T
    >>> verify_grad(lambda x: T.tanh(x) * x, [np.array([0.1, 0.5, -1.2])])
    """
    # lazy: upward: verify_grad compiles, and nbgrad.compile builds on this module
    from nbgrad.compile.function import function

    pt = [np.asarray(p) for p in pt]
    if not pt:
        raise ValueError("verify_grad: pt must contain at least one array")
    if rng is None:
        rng = np.random.default_rng(42)
    elif isinstance(rng, (int, np.integer)):
        rng = np.random.default_rng(rng)
    pt = [p.astype(config.floatX) if p.dtype.kind not in "fc" else p for p in pt]
    inputs = [TensorType(p.dtype, (None,) * p.ndim)(f"input_{i}") for i, p in enumerate(pt)]
    out = as_tensor_variable(fun(*inputs))
    low_precision = any(p.dtype in (np.float32, np.float16) for p in pt) or out.dtype in ("float32", "float16")
    if abs_tol is None:
        abs_tol = 1e-2 if low_precision else 1e-4
    if rel_tol is None:
        rel_tol = 1e-2 if low_precision else 1e-4
    f_out = function(inputs, out)
    out_shape = np.shape(f_out(*pt))
    proj_var = TensorType(out.dtype, (None,) * len(out_shape))("projection")
    cost = (out * proj_var).sum() if out.ndim else out * proj_var
    g = grad(cost, inputs, disconnected_inputs="ignore")
    f_cost = function(inputs + [proj_var], cost)
    f_grad = function(inputs + [proj_var], g)
    for _ in range(n_tests):
        proj = (rng.random(out_shape) + 0.5).astype(out.dtype)
        analytic = f_grad(*pt, proj)
        numeric = numeric_grad(lambda *args, proj=proj: f_cost(*args, proj), pt, eps)
        for i, (a, n) in enumerate(zip(analytic, numeric)):
            a = np.asarray(a, dtype=np.float64)
            abs_err = np.abs(a - n)
            rel_err = abs_err / np.maximum(np.abs(a) + np.abs(n), 1e-8)
            bad = (abs_err > abs_tol) & (rel_err > rel_tol)
            if np.any(bad):
                pos = int(np.argmax(np.where(bad, abs_err, -1).reshape(-1))) if a.ndim else 0
                raise GradientError(i, pos, float(abs_err.reshape(-1)[pos]), float(rel_err.reshape(-1)[pos]),
                                    abs_tol, rel_tol, analytic=a, numeric=n)


verify_grad.E_grad = GradientError
