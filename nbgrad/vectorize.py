"""Graph vectorization: rebuild a graph over a batch of inputs (like ``vmap``).

``vectorize_graph(outputs, {x: xs})`` takes a graph and replaces some of its
inputs by batched versions, each with one extra *leading* axis, and rebuilds
every node that depends on them so that it computes all batch entries at once.
Nodes that do not depend on a batched input are kept as they are (computed
once, not per batch entry).

Each op says how to batch itself with its method
``Op.vectorize_node(node, inputs)``: ``inputs`` are the new inputs, a batched
one having one more dimension than the node's original input; the method
returns the new outputs, a batched one with its batch axis first, or None
when the op has no batched form for these inputs. This module holds no
knowledge of particular ops: for an op without a rule (or a user op given one
with ``register_vectorize``) the node is wrapped in ``Blockwise``, which loops
over the batch at run time, so that every graph can be vectorized.

The Jacobian is one vectorized reverse pass: the vector-Jacobian product graph
with a symbolic cotangent, vectorized over the rows of an identity matrix
(``batched_lop``); its forward-mode twin vectorizes the Jacobian-vector
product over an identity basis of the input (``batched_rop``). Rows of the
identity stay banded through slicing, scaling and sums, so that part of a
Jacobian is kept as a few diagonal vectors and written once
(``nbgrad.banded``).
"""

import numpy as np

from nbgrad.banded import Band, BandedBatches, Diagonals, DiagonalsOf
from nbgrad.gradient import Lop, Rop, grad
from nbgrad.graph.basic import Apply, Variable
from nbgrad.graph.nograd import DisconnectedType, NullType, disconnected_type
from nbgrad.graph.op import Op
from nbgrad.graph.replace import clone_replace
from nbgrad.row_runs import (
    LengthAtLeast,
    clone_with_zeros,
    overlaps,
    row_runs,
    static_width,
    with_slice_lengths,
)
from nbgrad.graph.traversal import io_toposort
from nbgrad.tensor.basic import as_tensor_variable, constant
from nbgrad.tensor.batching import any_batched, is_batched
from nbgrad.tensor.math import _prod_shapes, ones_like, sum as _sum
from nbgrad.tensor.shape import broadcast_batch, eye, join, reshape, shape_i
from nbgrad.tensor.type import TensorType

__all__ = ["vectorize_graph", "vectorize_banded", "register_vectorize", "Blockwise", "Diagonals",
           "DiagonalsOf", "batched_lop", "batched_rop"]

_RULES = {}


def register_vectorize(*op_classes):
    """Register ``rule(op, node, inputs) -> outputs`` as the batching rule of ``op_classes``.

    The extension hook for ops defined outside nbgrad that do not define
    ``Op.vectorize_node`` themselves; it applies where the op's method gives
    None. Subclasses inherit the rule of their closest registered base class.
    """

    def deco(rule):
        for cls in op_classes:
            _RULES[cls] = rule
        return rule

    return deco


def _batch_node(node, inputs):
    """The outputs of ``node`` over the batch: the op's rule, a registered one, or a loop."""
    op = node.op
    results = op.vectorize_node(node, inputs)
    if results is None:
        rule = next((_RULES[cls] for cls in type(op).__mro__ if cls in _RULES), None)
        results = rule(op, node, inputs) if rule is not None else None
    if results is None:
        batched = [is_batched(n, o) for n, o in zip(inputs, node.inputs)]
        results = Blockwise(op, batched).make_node(*inputs).outputs
    return results


def vectorize_graph(outputs, replace):
    """Rebuild ``outputs`` with the variables of ``replace`` swapped for batched versions.

    Parameters
    ----------
    outputs : Variable or list of Variables
    replace : dict
        ``{variable: batched}`` where ``batched`` has the variable's dimensions
        plus one leading batch axis (of the same size for every entry).

    Returns
    -------
    Variable or list
        The new outputs. An output that depends on a batched input has a
        leading batch axis; one that does not is returned unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> import nbgrad.tensor as T
    >>> x = T.dvector("x")
    >>> y = T.exp(x).sum()
    >>> xs = T.dmatrix("xs")
    >>> ys = vectorize_graph(y, {x: xs})
    >>> ys.eval({xs: np.zeros((3, 2))})
    array([2., 2., 2.])
    """
    return _rebuild(outputs, _batched_replace(replace, "vectorize_graph"), None)


def vectorize_banded(outputs, replace, bands, equal_lengths=None):
    """``vectorize_graph`` that carries batches which are zero off a few diagonals as those diagonals.

    Where an op keeps such a batch banded (slices, scaling, sums, products
    with a diagonal: each op's ``vectorize_banded_node``), the result is
    written once from its diagonals by ``Diagonals``; the rewrites drop the
    dense forms nothing uses. The reverse-mode Jacobian of a vector uses it
    over the rows of the identity (``batched_lop``).

    Parameters
    ----------
    outputs, replace
        As for ``vectorize_graph``.
    bands : dict
        ``{batched: {offset: diagonal}}`` for batched values of ``replace``
        (matrices of shape (n, m)) that are zero off the given diagonals:
        ``batched[j + k, j] == diagonal[j]`` for offset ``k``, each diagonal a
        vector of length m.
    equal_lengths : dict, optional
        ``{vector: other}`` for unbatched vectors that have the same length
        at run time where the graph does not show it (the cotangent of a
        Jacobian and the expression it stands for).

    Examples
    --------
    >>> import numpy as np
    >>> import nbgrad.tensor as T
    >>> x, v = T.dvector("x"), T.dvector("v")
    >>> eye = T.constant(np.eye(3))
    >>> rows = vectorize_banded(v * T.exp(x), {v: eye}, {eye: {0: T.ones_like(x)}}, equal_lengths={v: x})
    >>> rows.eval({x: [0.0, 1.0, 2.0]}).round(3)
    array([[1.   , 0.   , 0.   ],
           [0.   , 2.718, 0.   ],
           [0.   , 0.   , 7.389]])
    """
    new = _batched_replace(replace, "vectorize_banded")
    batched = set(new.values())
    for b in bands:
        if b not in batched or b.ndim != 2:
            raise ValueError(
                f"vectorize_banded: each key of bands must be a batched matrix among the values of replace, "
                f"got {b} ({b.type})"
            )
    n = {b: b.type.shape[0] if b.type.shape[0] is not None else shape_i(b, 0) for b in bands}
    banded = BandedBatches({b: Band(n[b], diags) for b, diags in bands.items()}, equal_lengths)
    return _rebuild(outputs, new, banded)


def _batched_replace(replace, caller):
    """``replace`` with its batched values as variables, each checked to have one more dimension."""
    new = {}
    for var, batched in replace.items():
        batched = as_tensor_variable(batched)
        if batched.ndim != var.ndim + 1:
            raise ValueError(
                f"{caller}: the batched version of {var} ({var.type}) must have one more "
                f"dimension (a leading batch axis), got {batched} with {batched.ndim}"
            )
        new[var] = batched
    return new


def _rebuild(outputs, new, banded):
    """Rebuild ``outputs`` over the batched variables ``new`` (banded ones per ``banded``, or None)."""
    is_list = isinstance(outputs, (list, tuple))
    outs = list(outputs) if is_list else [outputs]
    new = dict(new)
    for node in io_toposort(list(new), outs):
        inputs = [new.get(i, i) for i in node.inputs]
        if all(n is o for n, o in zip(inputs, node.inputs)):
            continue
        results = banded.batch_node(node, inputs) if banded is not None else None
        if results is None and any_batched(inputs, node.inputs):
            results = _batch_node(node, inputs)
        elif results is None:  # replaced by unbatched values (e.g. shapes): the same op on them
            results = node.op.make_node(*inputs).outputs
        if isinstance(results, Variable):
            results = [results]
        if len(results) != len(node.outputs):
            raise ValueError(
                f"the vectorize rule of {node.op} returned {len(results)} output(s) for {len(node.outputs)}"
            )
        for old, res in zip(node.outputs, results):
            if res.ndim not in (old.ndim, old.ndim + 1):
                raise ValueError(
                    f"the vectorize rule of {node.op} returned {res} with {res.ndim} dimension(s) "
                    f"for an output of {old.ndim}; expected {old.ndim} or {old.ndim + 1}"
                )
            if res is not old:
                new[old] = res
    result = [new.get(o, o) for o in outs]
    return result if is_list else result[0]


# ---------------------------------------------------------------- fallback op
class Blockwise(Op):
    """Apply ``core_op`` to each entry of a batch, in a loop at run time.

    ``batched[i]`` says whether input ``i`` carries a leading batch axis; every
    output gets one. This is the fallback for ops without a vectorize rule:
    correct for any op, but without the speed of a batched rule.
    """

    __props__ = ("core_op", "batched")

    def __init__(self, core_op, batched):
        self.core_op = core_op
        self.batched = tuple(bool(b) for b in batched)

    def __str__(self):
        return f"Blockwise{{{self.core_op}}}"

    def _core_inputs(self, inputs):
        return [
            TensorType(x.dtype, x.type.shape[1:])() if b else x.type()
            for x, b in zip(inputs, self.batched)
        ]

    def make_node(self, *inputs):
        inputs = [as_tensor_variable(x) for x in inputs]
        if len(inputs) != len(self.batched):
            raise TypeError(f"{self} takes {len(self.batched)} input(s), got {len(inputs)}")
        core = self.core_op.make_node(*self._core_inputs(inputs))
        outputs = [TensorType(o.dtype, (None,) + o.type.shape)() for o in core.outputs]
        return Apply(self, inputs, outputs)

    def perform(self, node, inputs, xp):
        return self.make_thunk(node, xp)(*inputs)

    def make_thunk(self, node, xp):
        core = self.core_op.make_node(*self._core_inputs(node.inputs))
        fn = self.core_op.make_thunk(core, xp)
        batched = self.batched
        dtypes = [o.dtype for o in node.outputs]
        single = len(dtypes) == 1
        name = str(self)

        def blockwise(*args):
            sizes = {x.shape[0] for x, b in zip(args, batched) if b}
            if len(sizes) != 1:
                raise ValueError(f"{name}: the batched inputs disagree on the batch size: {sorted(sizes)}")
            (size,) = sizes
            results = []
            for k in range(size):
                out = fn(*[x[k] if b else x for x, b in zip(args, batched)])
                results.append(out if isinstance(out, (tuple, list)) else (out,))
            if size == 0:
                stacked = tuple(xp.zeros((0,), dtype=d) for d in dtypes)
            else:
                try:
                    stacked = tuple(
                        xp.stack([xp.asarray(r[j], dtype=d) for r in results]) for j, d in enumerate(dtypes)
                    )
                except ValueError:
                    shapes = sorted({tuple(xp.shape(x) for x in r) for r in results})
                    shapes = [s[0] for s in shapes] if single else shapes
                    raise ValueError(
                        f"{name}: the batch entries give results of different shapes {shapes}; the "
                        "op's result shape depends on its input values, so it cannot be batched: "
                        "loop over the batch instead"
                    ) from None
            return stacked[0] if single else stacked

        return blockwise

    def infer_shape(self, fgraph, node, input_shapes):
        """(batch size,) + the core op's output shape, from the core op's ``infer_shape``.

        The core op sees its inputs' shapes without the batch axis; where its rule
        reads an input itself (a size given as a value), that is the unbatched outer
        input, or entry 0 of a batched one (every entry has the same core shape).
        """
        core_in, core = self._core_graph(node.inputs)
        core_shapes = [tuple(s[1:]) if b else tuple(s) for s, b in zip(input_shapes, self.batched)]
        size = next(s[0] for s, b in zip(input_shapes, self.batched) if b)
        replace = {c: x[0] if b else x for c, x, b in zip(core_in, node.inputs, self.batched)}
        out = []
        for shape in self.core_op.infer_shape(fgraph, core, core_shapes):
            dims = [as_tensor_variable(d) for d in shape]
            out.append((size, *(clone_replace(dims, replace) if dims else ())))
        return out

    def _core_graph(self, inputs):
        core_in = self._core_inputs(inputs)
        core = self.core_op.make_node(*core_in)
        return core_in, core

    def L_op(self, inputs, outputs, output_grads):
        """The core op's L_op graph, vectorized over the batch."""
        core_in, core = self._core_graph(inputs)
        core_g = [TensorType(g.dtype, g.type.shape[1:])() for g in output_grads]
        grads = self.core_op.L_op(core_in, list(core.outputs), core_g)
        replace = {c: x for c, x, b in zip(core_in, inputs, self.batched) if b}
        replace.update({c: g for c, g in zip(core_g, output_grads)})
        out = []
        for g, x, b in zip(grads, inputs, self.batched):
            if isinstance(g.type, (DisconnectedType, NullType)):
                out.append(g if isinstance(g.type, NullType) else disconnected_type())
                continue
            vg = _clone_core(g, core_in, inputs, self.batched, replace)
            if b and vg.ndim == x.ndim - 1:
                vg = broadcast_batch(vg, _first_batch_size(inputs, self.batched))
            elif not b and vg.ndim == x.ndim + 1:
                vg = _sum(vg, axis=0)
            out.append(vg)
        return out

    def R_op(self, inputs, eval_points):
        core_in, core = self._core_graph(inputs)
        wrt, evs, replace = [], [], {}
        for c, x, ev, b in zip(core_in, inputs, eval_points, self.batched):
            if ev is None:
                continue
            ce = TensorType(ev.dtype, ev.type.shape[1:] if ev.ndim == x.ndim and b else ev.type.shape)()
            wrt.append(c)
            evs.append(ce)
            replace[ce] = ev if b else broadcast_batch(ev, _first_batch_size(inputs, self.batched))
        if not wrt:
            return [None] * len(core.outputs)
        tangents = Rop(list(core.outputs), wrt, evs)
        for c, x, b in zip(core_in, inputs, self.batched):
            if b:
                replace[c] = x
        out = []
        for t in tangents:
            vt = vectorize_graph(_substitute_unbatched(t, core_in, inputs, self.batched), replace)
            if vt.ndim == t.ndim:
                vt = broadcast_batch(vt, _first_batch_size(inputs, self.batched))
            out.append(vt)
        return out


def _first_batch_size(inputs, batched):
    return next(shape_i(x, 0) for x, b in zip(inputs, batched) if b)


def _substitute_unbatched(v, core_in, inputs, batched):
    repl = {c: x for c, x, b in zip(core_in, inputs, batched) if not b}
    return clone_replace(v, repl) if repl else v


def _clone_core(g, core_in, inputs, batched, replace):
    return vectorize_graph(_substitute_unbatched(g, core_in, inputs, batched), replace)


# ------------------------------------------------------------- Jacobians
def _size_and_shape(x):
    """(static size or None, list of symbolic axis sizes) of ``x``."""
    static = x.type.shape
    size = int(np.prod(static)) if None not in static else None
    return size, [shape_i(x, i) for i in range(x.ndim)]


def _identity_basis(x):
    """The rows of an identity matrix, each shaped like ``x``: shape (x.size,) + x.shape."""
    size, dims = _size_and_shape(x)
    if size is not None:
        return constant(np.eye(size, dtype=x.dtype).reshape((size,) + tuple(x.type.shape)))
    n = _prod_shapes(dims)
    basis = eye(n, dtype=x.dtype)
    return basis if x.ndim == 1 else reshape(basis, (n, *dims))


def _unbatch_to(result, lead, like, size):
    """Reshape a (size, *like.shape) batch to lead + like.shape; broadcast if it has no batch axis."""
    if result.ndim == like.ndim:
        result = broadcast_batch(result, size)
    if len(lead) == 1:
        return result
    return reshape(result, (*lead, *[shape_i(like, i) for i in range(like.ndim)]))


def batched_lop(expression, wrt, consider_constant=None, disconnected_inputs="raise"):
    """The Jacobian of ``expression`` w.r.t. ``wrt`` by one vectorized reverse pass.

    The vector-Jacobian product vᵀ·J is built with a symbolic cotangent ``v``
    and vectorized over the rows of the identity: row ``i`` of the result is
    eᵢᵀ·J. Shape ``expression.shape + w.shape`` for each ``w``; a list ``wrt``
    gives a list.

    >>> import nbgrad.tensor as T
    >>> x = T.dvector("x")
    >>> batched_lop(x ** 2, x).eval({x: [1.0, 3.0]})
    array([[2., 0.],
           [0., 6.]])
    """
    expression = as_tensor_variable(expression)
    wrt_list = list(wrt) if isinstance(wrt, (list, tuple)) else [wrt]
    if expression.ndim == 0:
        out = grad(expression, wrt_list, consider_constant=consider_constant,
                   disconnected_inputs=disconnected_inputs)
    else:
        cotangent = TensorType(expression.dtype, expression.type.shape)("cotangent")
        vjps = Lop(expression, wrt_list, cotangent, consider_constant=consider_constant,
                   disconnected_inputs=disconnected_inputs)
        size, dims = _size_and_shape(expression)
        n = constant(np.int64(size)) if size is not None else _prod_shapes(dims)
        groups = row_runs(vjps, cotangent, size) if expression.ndim == 1 else None
        if groups is not None:
            if size is None and static_width(groups[1]) is not None:
                vjps = with_slice_lengths(vjps, wrt_list)
            rows = _grouped_identity_rows(vjps, cotangent, expression, groups)
        elif expression.ndim == 1:  # the identity's rows are banded: its diagonal is ones
            basis = _identity_basis(expression)
            rows = vectorize_banded(vjps, {cotangent: basis}, {basis: {0: ones_like(expression)}},
                                    equal_lengths={cotangent: expression})
        else:
            rows = vectorize_graph(vjps, {cotangent: _identity_basis(expression)})
        out = [_unbatch_to(r, dims, w, n) for r, w in zip(rows, wrt_list)]
    return out if isinstance(wrt, (list, tuple)) else out[0]


def _grouped_identity_rows(vjps, cotangent, expression, groups):
    """The vector-Jacobian products over the identity's rows, one run of rows at a time, joined.

    Each run of rows (``nbgrad.row_runs.row_runs``) is a banded batch
    ``{-start: ones}``; the slices of the cotangent it does not touch are
    symbolic zeros (``clone_with_zeros``), so the terms they feed are left out.
    Where the length is known only at run time but every slice ends at a
    constant (at most ``width``), the runs below ``width`` take their rows from
    a constant identity of size ``width`` (the slices read the same entries
    of it), and the length is checked to be at least ``width``.
    """
    runs, reads = groups
    size = expression.type.shape[0]
    width = static_width(reads) if size is None else size
    ones = ones_like(expression)
    pieces = [[] for _ in vjps]
    for r0, r1 in runs:
        if width is not None and r1 is not None:
            basis = constant(np.eye(width, dtype=expression.dtype)[r0:r1])
            count = constant(np.int64(r1 - r0))
        elif width is not None:  # the rows after every slice: the products are zero there
            length = LengthAtLeast(width, _vector_name(expression))(shape_i(expression, 0))
            basis, count = None, length - r0
        else:
            basis = eye(shape_i(expression, 0), dtype=expression.dtype)[r0:r1]
            count = shape_i(basis, 0)
        zeros = [s for s, bounds in reads.items() if not overlaps(bounds, (r0, r1))]
        run_vjps = clone_with_zeros(vjps, cotangent, zeros, expression) if zeros else list(vjps)
        if basis is None:
            rows = run_vjps
        elif size is None and width is not None:  # a constant basis of that width, and its diagonal
            diagonal = constant(np.ones(width, dtype=expression.dtype))
            rows = vectorize_banded(run_vjps, {cotangent: basis}, {basis: {-r0: diagonal}})
        else:
            rows = vectorize_banded(
                run_vjps, {cotangent: basis}, {basis: {-r0: ones}}, equal_lengths={cotangent: expression}
            )
        for piece, r, v in zip(pieces, rows, vjps):
            piece.append(r if r.ndim == v.ndim + 1 else broadcast_batch(r, count))
    return [join(0, *piece) for piece in pieces]


def _vector_name(v):
    return f"the vector {v.name!r}" if v.name else "the vector differentiated"


def batched_rop(expression, wrt, disconnected_inputs="raise"):
    """The Jacobian of ``expression`` w.r.t. ``wrt`` by one vectorized forward pass.

    The Jacobian-vector product J·u (from each op's R_op) is vectorized over an
    identity basis of ``wrt``; best when ``wrt`` is smaller than ``expression``.

    >>> import nbgrad.tensor as T
    >>> x = T.dvector("x")
    >>> batched_rop(T.stack([x.sum(), (x ** 2).sum(), x[0]]), x).eval({x: [1.0, 3.0]})
    array([[1., 1.],
           [2., 6.],
           [1., 0.]])
    """
    expression = as_tensor_variable(expression)
    wrt_list = list(wrt) if isinstance(wrt, (list, tuple)) else [wrt]
    out = []
    for w in wrt_list:
        tangent = TensorType(w.dtype, w.type.shape)("tangent")
        jvp = Rop(expression, w, tangent, disconnected_outputs=disconnected_inputs)
        size, dims = _size_and_shape(w)
        n = constant(np.int64(size)) if size is not None else _prod_shapes(dims)
        cols = vectorize_graph(jvp, {tangent: _identity_basis(w)})
        if cols.ndim == expression.ndim:
            cols = broadcast_batch(cols, n)
        # (n, *expression.shape) -> (*expression.shape, n) -> expression.shape + w.shape
        cols = cols.dimshuffle(*range(1, cols.ndim), 0)
        if w.ndim != 1:
            cols = reshape(cols, (*[shape_i(expression, i) for i in range(expression.ndim)], *dims))
        out.append(cols)
    return out if isinstance(wrt, (list, tuple)) else out[0]
