"""Graph vectorization: rebuild a graph over a batch of inputs (like ``vmap``).

``vectorize_graph(outputs, {x: xs})`` takes a graph and replaces some of its
inputs by batched versions, each with one extra *leading* axis, and rebuilds
every node that depends on them so that it computes all batch entries at once.
Nodes that do not depend on a batched input are kept as they are (computed
once, not per batch entry).

Each op says how to batch itself with a rule ``rule(op, node, inputs)``:
``inputs`` are the new inputs, a batched one having one more dimension than
the node's original input; the rule returns the new outputs, a batched one
with its batch axis first. An op class can carry the rule as a
``vectorize_node(node, *inputs)`` method; the rules of the core op library are
registered below with ``register_vectorize``. An op without any rule is
wrapped in ``Blockwise``, which loops over the batch at run time, so that
every graph can be vectorized.

The Jacobian is one vectorized reverse pass: the vector-Jacobian product graph
with a symbolic cotangent, vectorized over the rows of an identity matrix
(``batched_lop``); its forward-mode twin vectorizes the Jacobian-vector
product over an identity basis of the input (``batched_rop``). Rows of the
identity stay banded through slicing, scaling and sums, so that part of a
Jacobian is kept as a few diagonal vectors and written once
(``nbgrad.banded``).
"""

import copy

import numpy as np

from nbgrad.banded import Diagonals, DiagonalsOf, _Banded, _is_batched, _Structure, _structured_rule
from nbgrad.graph.basic import Apply, Constant, Variable
from nbgrad.graph.op import Op
from nbgrad.graph.traversal import io_toposort
from nbgrad.tensor.basic import as_tensor_variable, constant
from nbgrad.tensor.type import TensorType

__all__ = ["vectorize_graph", "register_vectorize", "Blockwise", "Diagonals", "DiagonalsOf", "batched_lop",
           "batched_rop"]

_RULES = {}


def register_vectorize(*op_classes):
    """Register ``rule(op, node, inputs) -> outputs`` as the batching rule of ``op_classes``.

    Subclasses inherit the rule of their closest registered base class.
    """

    def deco(rule):
        for cls in op_classes:
            _RULES[cls] = rule
        return rule

    return deco


def _rule_for(op):
    method = getattr(op, "vectorize_node", None)
    if method is not None:
        return lambda op, node, inputs: method(node, *inputs)
    for cls in type(op).__mro__:
        rule = _RULES.get(cls)
        if rule is not None:
            return rule
    return _blockwise_rule


def vectorize_graph(outputs, replace, _structure=None):
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
    is_list = isinstance(outputs, (list, tuple))
    outs = list(outputs) if is_list else [outputs]
    new = {}
    for var, batched in replace.items():
        batched = as_tensor_variable(batched)
        if batched.ndim != var.ndim + 1:
            raise ValueError(
                f"vectorize_graph: the batched version of {var} ({var.type}) must have one more "
                f"dimension (a leading batch axis), got {batched} with {batched.ndim}"
            )
        new[var] = batched
    structure = copy.copy(_structure) if _structure else {}
    for node in io_toposort(list(new), outs):
        inputs = [new.get(i, i) for i in node.inputs]
        if all(n is o for n, o in zip(inputs, node.inputs)):
            continue
        structured = _structured_rule(node, inputs, structure) if structure else None
        if structured is not None:
            results = structured
        elif any(_is_batched(n, o) for n, o in zip(inputs, node.inputs)):
            results = _rule_for(node.op)(node.op, node, inputs)
        else:  # replaced by unbatched values (e.g. shapes): the same op on them
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


# ------------------------------------------------------------------- helpers
def _batch_size(node, inputs):
    from nbgrad.tensor.shape import shape_i

    for new, old in zip(inputs, node.inputs):
        if _is_batched(new, old):
            return shape_i(new, 0)
    raise ValueError(f"no batched input among the inputs of {node.op}")


def _broadcast_batch(x, size):
    """``x`` repeated along a new leading axis of length ``size``."""
    from nbgrad.tensor.shape import alloc, shape_i

    return alloc(x, size, *[shape_i(x, i) for i in range(x.ndim)])


def _all_batched(node, inputs):
    size = _batch_size(node, inputs)
    return [n if _is_batched(n, o) else _broadcast_batch(n, size) for n, o in zip(inputs, node.inputs)]


def _pad_after_batch(x, ndim):
    """Insert broadcastable axes after the batch axis of ``x`` up to ``ndim`` core dimensions."""
    extra = ndim - (x.ndim - 1)
    if extra <= 0:
        return x
    return x.dimshuffle(0, *(["x"] * extra), *range(1, x.ndim))


def _shift_axis(a):
    return a + 1 if a >= 0 else a


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
                stacked = tuple(
                    xp.stack([xp.asarray(r[j], dtype=d) for r in results]) for j, d in enumerate(dtypes)
                )
            return stacked[0] if single else stacked

        return blockwise

    def infer_shape(self, fgraph, node, input_shapes):
        raise NotImplementedError(f"{self}.infer_shape")

    def _core_graph(self, inputs):
        core_in = self._core_inputs(inputs)
        core = self.core_op.make_node(*core_in)
        return core_in, core

    def L_op(self, inputs, outputs, output_grads):
        """The core op's L_op graph, vectorized over the batch."""
        from nbgrad.gradient import DisconnectedType, NullType, disconnected_type

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
                vg = _broadcast_batch(vg, _first_batch_size(inputs, self.batched))
            elif not b and vg.ndim == x.ndim + 1:
                from nbgrad.tensor.math import sum as _sum

                vg = _sum(vg, axis=0)
            out.append(vg)
        return out

    def R_op(self, inputs, eval_points):
        from nbgrad.gradient import Rop

        core_in, core = self._core_graph(inputs)
        wrt, evs, replace = [], [], {}
        for c, x, ev, b in zip(core_in, inputs, eval_points, self.batched):
            if ev is None:
                continue
            ce = TensorType(ev.dtype, ev.type.shape[1:] if ev.ndim == x.ndim and b else ev.type.shape)()
            wrt.append(c)
            evs.append(ce)
            replace[ce] = ev if b else _broadcast_batch(ev, _first_batch_size(inputs, self.batched))
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
                vt = _broadcast_batch(vt, _first_batch_size(inputs, self.batched))
            out.append(vt)
        return out


def _first_batch_size(inputs, batched):
    from nbgrad.tensor.shape import shape_i

    return next(shape_i(x, 0) for x, b in zip(inputs, batched) if b)


def _substitute_unbatched(v, core_in, inputs, batched):
    from nbgrad.graph.replace import clone_replace

    repl = {c: x for c, x, b in zip(core_in, inputs, batched) if not b}
    return clone_replace(v, repl) if repl else v


def _clone_core(g, core_in, inputs, batched, replace):
    return vectorize_graph(_substitute_unbatched(g, core_in, inputs, batched), replace)


def _blockwise_rule(op, node, inputs):
    batched = [_is_batched(n, o) for n, o in zip(inputs, node.inputs)]
    return Blockwise(op, batched).make_node(*inputs).outputs


# ------------------------------------------------------- rules of the op library
def _register_library_rules():
    from nbgrad.gradient import _GradientOp
    import sys

    from nbgrad.tensor import nnet

    # ``nbgrad.tensor.shape`` is shadowed by the ``shape`` function in the package namespace.
    sh = sys.modules["nbgrad.tensor.shape"]
    st = sys.modules["nbgrad.tensor.subtensor"]
    from nbgrad.tensor.elemwise import DimShuffle, Elemwise, SumToShape
    from nbgrad.tensor.math import Argmax, Argmin, CAReduce, Dot, Matmul, dot, matmul

    @register_vectorize(Elemwise)
    def _elemwise(op, node, inputs):
        # Elemwise pads lower-rank (unbatched) inputs on the left: exactly the batch axis.
        return op.make_node(*inputs).outputs

    @register_vectorize(_GradientOp)
    def _unary_same(op, node, inputs):
        return op.make_node(*inputs).outputs

    @register_vectorize(DimShuffle)
    def _dimshuffle(op, node, inputs):
        order = (0,) + tuple("x" if d == "x" else d + 1 for d in op.new_order)
        return [DimShuffle(op.input_ndim + 1, order)(inputs[0])]

    @register_vectorize(CAReduce)
    def _careduce(op, node, inputs):
        new_op = copy.copy(op)
        new_op.__dict__.pop("_props_hash", None)  # its identity changes with the axes
        new_op.axis = tuple(a + 1 for a in op.axis)
        return new_op.make_node(inputs[0]).outputs

    @register_vectorize(Argmax, Argmin)
    def _argreduce(op, node, inputs):
        (x,) = inputs
        core_ndim = node.inputs[0].ndim
        if core_ndim > 1 and len(op.axis) == core_ndim:
            x = sh.reshape(x, (sh.shape_i(x, 0), -1))
            return [type(op)((1,))(x)]
        return [type(op)(tuple(a + 1 for a in op.axis))(x)]

    @register_vectorize(Dot)
    def _dot(op, node, inputs):
        a, b = inputs
        a0, b0 = node.inputs
        ba, bb = _is_batched(a, a0), _is_batched(b, b0)
        if ba and not bb and a0.ndim == 1:
            return [dot(a, b)]  # (B, k)·(k[, m]) is one matrix product
        if bb and not ba and b0.ndim == 1:
            return [dot(b, a.T if a0.ndim == 2 else a)]  # rows of b times aᵀ
        left = _pad_after_batch(a, 2) if ba and a0.ndim == 1 else a
        if not ba and a0.ndim == 1:
            left = a.dimshuffle("x", 0)
        right = b.dimshuffle(0, 1, "x") if bb and b0.ndim == 1 else b
        if not bb and b0.ndim == 1:
            right = b.dimshuffle(0, "x")
        out = matmul(left, right)
        if b0.ndim == 1:
            out = out[..., 0]
        if a0.ndim == 1:
            out = out[..., 0, :] if b0.ndim == 2 else out[..., 0]
        return [out]

    @register_vectorize(Matmul)
    def _matmul(op, node, inputs):
        a, b = inputs
        a0, b0 = node.inputs
        core = max(a0.ndim, b0.ndim)
        a = _pad_after_batch(a, core) if _is_batched(a, a0) else a
        b = _pad_after_batch(b, core) if _is_batched(b, b0) else b
        return [op.make_node(a, b).outputs[0]]

    @register_vectorize(sh.Shape)
    def _shape(op, node, inputs):
        return [sh.shape(inputs[0])[1:]]

    @register_vectorize(sh.ShapeI)
    def _shape_i(op, node, inputs):
        return [sh.ShapeI(op.i + 1)(inputs[0])]

    @register_vectorize(sh.Reshape)
    def _reshape(op, node, inputs):
        x, shp = inputs
        if _is_batched(shp, node.inputs[1]):
            return _blockwise_rule(op, node, inputs)
        if isinstance(shp, Constant):
            entries = [int(s) for s in np.asarray(shp.data).reshape(-1)]
        else:
            entries = [shp[i] for i in range(op.ndim)]
        return [sh.reshape(x, (sh.shape_i(x, 0), *entries))]

    @register_vectorize(sh.Alloc)
    def _alloc(op, node, inputs):
        value, *shape = inputs
        if any(_is_batched(n, o) for n, o in zip(shape, node.inputs[1:])):
            return _blockwise_rule(op, node, inputs)
        value = _pad_after_batch(value, len(shape))
        return [sh.alloc(value, sh.shape_i(value, 0), *shape)]

    @register_vectorize(sh.Join)
    def _join(op, node, inputs):
        return [sh.Join(op.axis + 1)(*_all_batched(node, inputs))]

    @register_vectorize(SumToShape)
    def _sum_to_shape(op, node, inputs):
        g, shp = inputs
        if _is_batched(shp, node.inputs[1]):
            return _blockwise_rule(op, node, inputs)
        if not _is_batched(g, node.inputs[0]):
            return _blockwise_rule(op, node, inputs)
        from nbgrad.tensor.math import cast

        full = sh.join(0, cast(sh.shape(g)[:1], shp.dtype), shp)
        return [SumToShape()(g, full)]

    def _n_adv(idx):
        return sum(1 for d in idx if d[0] in ("adv", "bool"))

    @register_vectorize(st.Subtensor)
    def _subtensor(op, node, inputs):
        x, *idx = inputs
        if _n_adv(op.idx) > 1 or any(_is_batched(n, o) for n, o in zip(idx, node.inputs[1:])):
            return _blockwise_rule(op, node, inputs)
        return [st.Subtensor((("slice", None, None, None),) + op.idx)(x, *idx)]

    @register_vectorize(st.IncSubtensor)
    def _inc_subtensor(op, node, inputs):
        x, y, *idx = inputs
        x0, y0 = node.inputs[:2]
        if _n_adv(op.idx) > 1 or any(_is_batched(n, o) for n, o in zip(idx, node.inputs[2:])):
            return _blockwise_rule(op, node, inputs)
        if not _is_batched(x, x0):
            x = _broadcast_batch(x, _batch_size(node, inputs))
        if _is_batched(y, y0):
            target = st.Subtensor(op.idx).make_node(x0, *node.inputs[2:]).outputs[0]
            y = _pad_after_batch(y, target.ndim)
        new_op = st.IncSubtensor((("slice", None, None, None),) + op.idx, op.set_instead_of_inc)
        return [new_op(x, y, *idx)]

    @register_vectorize(nnet.Softmax, nnet.LogSoftmax)
    def _softmax(op, node, inputs):
        return [type(op)(_shift_axis(op.axis))(inputs[0])]


_register_library_rules()


# ------------------------------------------------------------- Jacobians
def _size_and_shape(x):
    """(static size or None, list of symbolic axis sizes) of ``x``."""
    from nbgrad.tensor.shape import shape_i

    static = x.type.shape
    size = int(np.prod(static)) if None not in static else None
    return size, [shape_i(x, i) for i in range(x.ndim)]


def _identity_basis(x):
    """The rows of an identity matrix, each shaped like ``x``: shape (x.size,) + x.shape."""
    from nbgrad.tensor.math import _prod_shapes
    from nbgrad.tensor.shape import eye, reshape

    size, dims = _size_and_shape(x)
    if size is not None:
        return constant(np.eye(size, dtype=x.dtype).reshape((size,) + tuple(x.type.shape)))
    n = _prod_shapes(dims)
    basis = eye(n, dtype=x.dtype)
    return basis if x.ndim == 1 else reshape(basis, (n, *dims))


def _unbatch_to(result, lead, like, size):
    """Reshape a (size, *like.shape) batch to lead + like.shape; broadcast if it has no batch axis."""
    from nbgrad.tensor.shape import reshape, shape_i

    if result.ndim == like.ndim:
        result = _broadcast_batch(result, size)
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
    from nbgrad.gradient import Lop, grad
    from nbgrad.tensor.math import _prod_shapes

    expression = as_tensor_variable(expression)
    wrt_list = list(wrt) if isinstance(wrt, (list, tuple)) else [wrt]
    if expression.ndim == 0:
        out = grad(expression, wrt_list, consider_constant=consider_constant,
                   disconnected_inputs=disconnected_inputs)
    else:
        cotangent = TensorType(expression.dtype, expression.type.shape)("cotangent")
        vjps = Lop(expression, wrt_list, cotangent, consider_constant=consider_constant,
                   disconnected_inputs=disconnected_inputs)
        basis = _identity_basis(expression)
        structure = None
        if expression.ndim == 1:
            from nbgrad.tensor.math import ones_like
            from nbgrad.tensor.shape import shape_i

            band = _Banded(basis.type.shape[0] if basis.type.shape[0] is not None else shape_i(basis, 0),
                           {0: ones_like(expression)})
            structure = _Structure({basis: band}, equal_lengths={cotangent: expression})
        rows = vectorize_graph(vjps, {cotangent: basis}, _structure=structure)
        size, dims = _size_and_shape(expression)
        n = constant(np.int64(size)) if size is not None else _prod_shapes(dims)
        out = [_unbatch_to(r, dims, w, n) for r, w in zip(rows, wrt_list)]
    return out if isinstance(wrt, (list, tuple)) else out[0]


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
    from nbgrad.gradient import Rop
    from nbgrad.tensor.math import _prod_shapes
    from nbgrad.tensor.shape import reshape

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
            cols = _broadcast_batch(cols, n)
        # (n, *expression.shape) -> (*expression.shape, n) -> expression.shape + w.shape
        cols = cols.dimshuffle(*range(1, cols.ndim), 0)
        if w.ndim != 1:
            from nbgrad.tensor.shape import shape_i

            cols = reshape(cols, (*[shape_i(expression, i) for i in range(expression.ndim)], *dims))
        out.append(cols)
    return out if isinstance(wrt, (list, tuple)) else out[0]
