"""Canonical forms: gradient-only ops removed, redundant shuffles, allocs and casts dropped,
commutative operands in one order, so that equivalent expressions meet in ``merge``.

Constant chains. ``(x * 2) * 2`` becomes ``4 * x`` and ``(x + 1) + 2`` becomes ``x + 3``
only when every constant folded is integer-valued and the folded value is an integer
the dtype holds exactly (below 2**53 in float64, 2**24 in float32, in range for integer
dtypes). Folding the constants is then exact; the product or sum with ``x`` is rounded
once instead of once per step, so for floats the result can differ from the chain in the
last bit (and is the better rounded of the two); it is bit-identical when the constants
are powers of two (products) or when ``x`` is an integer. Non-integer constants
(``x * 0.1 * 3``) are left in place, since folding them would round the constant itself.
"""

import numpy as np

from nbgrad.gradient import _GradientOp
from nbgrad.graph.basic import Constant
from nbgrad.rewriting.db import SWAP_INPUTS, node_rewriter
from nbgrad.rewriting.patterns import (
    S, chain_inner, chain_leaves, chain_links_below, dim_var, neutral_const, same_shape, sop, tree_relink,
    shape_entry_key, dim_key,
)
from nbgrad.scalar import basic as ps
from nbgrad.tensor import math as tm
from nbgrad.tensor.basic import constant
from nbgrad.tensor.elemwise import DimShuffle, Elemwise
from nbgrad.tensor.shape import Alloc, Shape, ShapeI, make_vector
from nbgrad.tensor.subtensor import Subtensor


@node_rewriter("canonicalize", tags=("fast_run", "fast_compile"), tracks=(_GradientOp,))
def remove_gradient_ops(fgraph, node):
    """zero_grad(x), grad_clip(x, ...), ... → x: they only matter to ``grad``."""
    return [node.inputs[0]]


@node_rewriter("canonicalize", tracks=(DimShuffle,))
def dimshuffle_identity(fgraph, node):
    """DimShuffle{0,1,...}(x) → x."""
    if node.op.new_order == tuple(range(node.op.input_ndim)):
        return [node.inputs[0]]
    return None


@node_rewriter("canonicalize", tracks=(DimShuffle,))
def dimshuffle_dimshuffle(fgraph, node):
    """DimShuffle(DimShuffle(x)) → one DimShuffle of x."""
    inner = node.inputs[0].owner
    if inner is None or not isinstance(inner.op, DimShuffle):
        return None
    first = inner.op.new_order
    order = tuple("x" if d == "x" else first[d] for d in node.op.new_order)
    return [DimShuffle(inner.op.input_ndim, order)(inner.inputs[0])]


@node_rewriter("canonicalize", tracks=(Alloc,))
def alloc_useless(fgraph, node):
    """Alloc(v) with no new axes and v already of that shape → v (e.g. grad's ``Alloc(1)`` seed)."""
    value, *shape = node.inputs
    out = node.outputs[0]
    if value.ndim != out.ndim:
        return None
    if not shape or value.type.shape == out.type.shape and None not in out.type.shape:
        return [value]
    if all(shape_entry_key(s) == dim_key(value, d) for d, s in enumerate(shape)):
        return [value]
    return None


@node_rewriter("canonicalize", tracks=(ps.Cast,))
def cast_useless(fgraph, node):
    """cast(x, x.dtype) → x."""
    if node.inputs[0].dtype == node.outputs[0].dtype:
        return [node.inputs[0]]
    return None


def _order_key(v):
    return (isinstance(v, Constant), int(v.auto_name[1:]))


@node_rewriter("canonicalize", tracks=(S["add"], S["mul"], S["maximum"], S["minimum"]))
def commutative_order(fgraph, node):
    """a ⊕ b → b ⊕ a for commutative ⊕ so that constants come last and operands sort stably.

    (The printers show a constant factor first, ``2 * x``, whatever the order here.)
    Exact for every a, b: IEEE addition and multiplication commute bit for bit; maximum and
    minimum do not for a pair of zeros of opposite signs, so those are swapped only when one
    operand is a constant with no zero.
    """
    a, b = node.inputs
    if _order_key(a) <= _order_key(b):
        return None
    if type(sop(node)) in (S["maximum"], S["minimum"]) and node.outputs[0].dtype.startswith("float"):
        # NumPy's maximum(-0.0, +0.0) is +0.0 and maximum(+0.0, -0.0) is -0.0: swap only
        # when one operand is a constant without zeros (equal operands are then identical)
        if not any(isinstance(v, Constant) and bool((np.asarray(v.data) != 0).all()) for v in (a, b)):
            return None
    out = node.outputs[0]
    tag = out.__dict__.get("tag")  # made on first use: reading ``out.tag`` would make one
    if out.name is not None or (tag is not None and tag.__dict__):
        return [node.op(b, a)]  # a new, unnamed output without notes, as before the swap
    return SWAP_INPUTS


@node_rewriter(("canonicalize", "simplify"), tracks=(ShapeI,))
def shape_i_through(fgraph, node):
    """x.shape[i] → the size it is known to equal: a constant, ``a.shape[j]`` of the input
    it comes from (``(a ** 2).shape[0]`` → ``a.shape[0]``, ``(A @ v).shape[0]`` →
    ``A.shape[0]``), or the ``alloc`` argument it was made with."""
    x = node.inputs[0]
    new = dim_var(x, node.op.i, fgraph)
    if new is None:
        new = _broadcast_dim(x, node.op.i, fgraph)
    if new is None or new is node.outputs[0]:
        return None
    if new.dtype != "int64":
        new = tm.cast(new, "int64")
    return [new]


@node_rewriter(("canonicalize",), tracks=(Subtensor,))
def shape_subtensor(fgraph, node):
    """x.shape[i] (an index into the shape vector) → Shape_i{i}(x), which the shape
    rules can simplify further."""
    vec = node.inputs[0]
    if vec.owner is None or not isinstance(vec.owner.op, Shape) or len(node.op.idx) != 1:
        return None
    kind, *rest = node.op.idx[0]
    if kind != "int" or not isinstance(rest[0], int):
        return None
    x = vec.owner.inputs[0]
    i = rest[0]
    if not -x.ndim <= i < x.ndim:
        return None
    return [ShapeI(i % x.ndim)(x)]


@node_rewriter(("canonicalize", "simplify"), tracks=(Shape,))
def shape_of_elemwise(fgraph, node):
    """shape(f(a, b)) of an elementwise result → the vector of its sizes read from the inputs,
    so that the result is not computed only for its shape."""
    x = node.inputs[0]
    if x.owner is None or not isinstance(x.owner.op, Elemwise) or x.ndim == 0:
        return None
    dims = []
    for i in range(x.ndim):
        d = dim_var(x, i, fgraph)
        if d is None:
            d = _broadcast_dim(x, i, fgraph)
        if d is None:
            return None
        dims.append(d if d.dtype == "int64" else tm.cast(d, "int64"))
    return [make_vector(*dims)]


def _broadcast_dim(x, i, fgraph=None):
    """Axis ``i``'s size of an elementwise result from its inputs' sizes, without computing it.

    Every input that does not broadcast on the axis has the result's size there
    (Theano's rule, checked when the elementwise op runs): a static size if one
    is known, else the first such input's.
    """
    if x.owner is None or not isinstance(x.owner.op, Elemwise):
        return None
    sizes = []
    for inp in x.owner.inputs:
        if inp.type.shape[i] != 1:
            d = dim_var(inp, i, fgraph)
            sizes.append(ShapeI(i)(inp) if d is None else d)
    if not sizes:
        return None
    return next((d for d in sizes if isinstance(d, Constant)), sizes[0])


_EXACT_INT = {"float64": 2 ** 53, "float32": 2 ** 24, "float16": 2 ** 11}


def _drops_exactly(value, kind, unit):
    """Whether ``value`` may be left out of a ``kind`` chain without changing any result.

    ``x * 1`` is always ``x``; ``x + 0.0`` is not (``-0.0 + 0.0`` is ``+0.0``), but
    ``x + (-0.0)`` is, and so is adding an integer zero.
    """
    if value != unit:
        return False
    if kind == "mul":
        return True
    v = np.asarray(value)
    return v.dtype.kind != "f" or bool(np.signbit(v))


def _exact_fold(values, kind, dtype):
    """The folded value of integer-valued ``values`` if ``dtype`` holds it exactly, else None."""
    ints = []
    for v in values:
        if isinstance(v, (bool, np.bool_)) or not float(v).is_integer():
            return None
        ints.append(int(v))
    total = 1 if kind == "mul" else 0
    for v in ints:
        total = total * v if kind == "mul" else total + v
    dt = np.dtype(dtype)
    if dt.kind == "f":
        if abs(total) > _EXACT_INT.get(dt.name, 0):
            return None
        # evaluate in the dtype itself, so that a zero keeps its sign (0.0 * -1.0 is -0.0)
        vals = [dt.type(v) for v in values]
        out = vals[0]
        for v in vals[1:]:
            out = out * v if kind == "mul" else out + v
        return out
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return total if info.min <= total <= info.max else None
    return None


def _neutral_alloc(v, leaves, k, dtype):
    """The fill value of ``leaves[k]`` = alloc(value, ...) if another leaf already has its shape."""
    node = v.owner
    if node is None or not isinstance(node.op, Alloc) or v.dtype != dtype:
        return None
    value = node.inputs[0]
    if not all(s == 1 for s in value.type.shape) or value.dtype != dtype:
        return None
    for j, o in enumerate(leaves):
        if j != k and o.ndim == v.ndim and not isinstance(o, Constant) and same_shape(o, v):
            return value
    return None


@node_rewriter(("canonicalize", "simplify"), tracks=(S["mul"], S["add"]), chain=True, reads=(Constant, Alloc))
def constant_chain(fgraph, node):
    """Products and sums of several operands, read as one chain: ``x * 2 * 2`` → ``x * 4``,
    ``x + 1 + 2`` → ``x + 3`` (see the module docstring for which constants fold), and an
    ``alloc(c, ...)`` operand whose shape another operand already has → ``c``
    (``alloc(1, x.shape[0]) * 2 * x`` → ``x * 2``)."""
    kind = "mul" if type(sop(node)) is S["mul"] else "add"
    out = node.outputs[0]
    if len(node.inputs) < 3 and not chain_links_below(fgraph, node):
        return None  # two operands (x * c): the identities of ``algebraic`` (x * 1, ...) apply
    leaves = chain_leaves(fgraph, out, out, kind, out.dtype)
    if len(leaves) < 3:
        return None
    if not any(isinstance(v, Constant) or v.owner is not None and isinstance(v.owner.op, Alloc) for v in leaves):
        return None  # no constant to fold or drop, no alloc to drop (one pass: the root of a long sum)
    dtype = out.type.dtype
    if any(not isinstance(v, Constant) and v.type.dtype != dtype for v in leaves):
        return None
    changed = False
    for k, v in enumerate(leaves):
        value = _neutral_alloc(v, leaves, k, out.dtype)
        if value is not None:
            leaves[k] = value if value.ndim == v.ndim else DimShuffle(
                value.ndim, ("x",) * (v.ndim - value.ndim) + tuple(range(value.ndim)))(value)
            changed = True
    is_c = [isinstance(v, Constant) and neutral_const(v) is not None for v in leaves]
    consts = [v for v, c in zip(leaves, is_c) if c]
    unit = 1 if kind == "mul" else 0
    if len(consts) >= 2:
        total = _exact_fold([neutral_const(c) for c in consts], kind, out.dtype)
        if total is not None:
            rank = max(c.ndim for c in consts)
            first = is_c.index(True)
            for k, c in enumerate(is_c):
                if c:
                    leaves[k] = None  # folded into the first constant's place
            leaves[first] = constant(np.full((1,) * rank, total, dtype=out.dtype))
            changed = True
    if any(v is not None and not c for v, c in zip(leaves, is_c)):
        for k, v in enumerate(leaves):
            if v is not None and isinstance(v, Constant) and _drops_exactly(neutral_const(v), kind, unit):
                leaves[k], changed = None, True
    if not changed or all(v is None for v in leaves):
        return None
    # the same tree, with leaves replaced and dropped ones (None) left out; its links whose
    # operands keep their types stay in place (the driver applies the edit)
    edit = tree_relink(out, chain_inner(fgraph, out, kind, out.dtype), leaves, tm.mul if kind == "mul" else tm.add)
    new = edit.result
    # dropped allocs had the shape of an operand that stays, dropped constants only a rank:
    # the broadcast shape is unchanged when the rank is
    if new.ndim != out.ndim or new.dtype != out.dtype:
        return None
    if new.type.shape != out.type.shape and any(
            a is not None and b is not None and a != b for a, b in zip(new.type.shape, out.type.shape)):
        return None
    return edit


__all__ = ["remove_gradient_ops", "dimshuffle_identity", "dimshuffle_dimshuffle",
           "alloc_useless", "cast_useless", "commutative_order", "shape_i_through", "shape_subtensor", "shape_of_elemwise",
           "constant_chain"]
