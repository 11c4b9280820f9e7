"""Specialization: faster or numerically safer forms of common expressions."""

import numpy as np

from nbgrad.rewriting.db import node_rewriter
from nbgrad.rewriting.patterns import S, chain_leaves, is_op, same_shape, scalar_const, tree_leaves
from nbgrad.tensor import math as tm
from nbgrad.tensor.elemwise import DimShuffle, Elemwise, SumToShape
from nbgrad.tensor.math import Dot, Matmul, Sum
from nbgrad.tensor.nnet import Softmax
from nbgrad.tensor.shape import Reshape, Shape
from nbgrad.tensor.subtensor import Subtensor


def _const_exp(e):
    c = scalar_const(e)
    if c is None or not all(s == 1 for s in e.type.shape):
        return None
    return c


def _same(new, out):
    if new.ndim != out.ndim:
        return None
    return new if new.dtype == out.dtype else tm.cast(new, out.dtype)


@node_rewriter("specialize", tracks=(S["pow"],))
def pow_specialize(fgraph, node):
    """x**2 → sqr(x), x**0.5 → sqrt(x), x**-1 → 1/x, x**0 → 1 (NumPy gives 1 for every x)."""
    x, e = node.inputs
    c = _const_exp(e)
    out = node.outputs[0]
    if c is None or not same_shape(x, out) or x.dtype != out.dtype:
        return None
    if c == 2:
        return [tm.sqr(x)]
    if c == 0.5:
        return [tm.sqrt(x)]
    if c == -1 and out.dtype.startswith("float"):
        return [tm.reciprocal(x)]
    if c == 1:
        return [x]
    return None


def _exp_neg_arg(v):
    """x if ``v`` is exp(-x); ('neg', x) if ``v`` is exp(x)."""
    if not is_op(v, "exp"):
        return None
    a = v.owner.inputs[0]
    if is_op(a, "neg"):
        return a.owner.inputs[0]
    return ("neg", a)


def _one_plus_exp(d):
    """x such that d = 1 + exp(-x), else None."""
    if not is_op(d, "add"):
        return None
    a, b = d.owner.inputs
    for one, e in ((a, b), (b, a)):
        if scalar_const(one) == 1 and all(s == 1 for s in one.type.shape):
            r = _exp_neg_arg(e)
            if r is not None:
                return r
    return None


def _sigmoid_of(r):
    if isinstance(r, tuple):
        return tm.sigmoid(tm.neg(r[1]))
    return tm.sigmoid(r)


@node_rewriter("specialize", tags=("fast_run", "stability"), tracks=(S["true_div"],))
def sigmoid_specialize(fgraph, node):
    """a / (1 + exp(-x)) → a · sigmoid(x) (1/(1+exp(-x)) → sigmoid(x))."""
    a, d = node.inputs
    r = _one_plus_exp(d)
    out = node.outputs[0]
    if r is None or not out.dtype.startswith("float"):
        return None
    s = _sigmoid_of(r)
    if scalar_const(a) == 1 and all(n == 1 for n in a.type.shape):
        return [_same(s, out)] if same_shape(s, out) else None
    return [_same(tm.mul(a, s), out)]


@node_rewriter("specialize", tags=("fast_run", "stability"), tracks=(S["reciprocal"],))
def sigmoid_reciprocal(fgraph, node):
    """1 / (1 + exp(-x)) written with reciprocal → sigmoid(x)."""
    r = _one_plus_exp(node.inputs[0])
    if r is None:
        return None
    return [_same(_sigmoid_of(r), node.outputs[0])]


def _factors(fgraph, v, root):
    """Leaves of the product tree under ``v`` (through mul nodes used only inside it)."""
    def inner(u):
        return is_op(u, "mul") and (u is root or len(fgraph.clients.get(u, ())) == 1)

    return tree_leaves(v, inner)


@node_rewriter("specialize", tags=("fast_run", "stability"), tracks=(S["mul"],), chain=True,
               reads=(S["sigmoid"],))
def sigmoid_exp_product(fgraph, node):
    """sigmoid(x) · exp(-x) → sigmoid(-x) inside a product (the logistic gradient).

    Exact to rounding for every finite x; where exp(-x) overflows (x < -709) the original
    is 0 · inf = nan or inf and the result is sigmoid(-x), the exact value (tagged
    'stability'). A nan x gives nan.
    """
    out = node.outputs[0]
    leaves = chain_leaves(fgraph, out, out, "mul", out.dtype)  # remembered by the driver
    if any(is_op(f, "mul") for f in leaves):
        leaves = _factors(fgraph, out, out)  # a product of another dtype inside: read through it
    sigmoids = {}
    for i, s in enumerate(leaves):
        if is_op(s, "sigmoid"):
            sigmoids.setdefault(s.owner.inputs[0], i)
    if not sigmoids:
        return None
    for j, e in enumerate(leaves):
        r = _exp_neg_arg(e)
        i = sigmoids.get(r) if r is not None and not isinstance(r, tuple) else None
        if i is None or i == j:
            continue
        x = leaves[i].owner.inputs[0]
        rest = [v for k, v in enumerate(leaves) if k not in (i, j)]
        new = tm.sigmoid(tm.neg(x))
        for v in rest:
            new = tm.mul(new, v)
        if not same_shape(new, out):
            return None
        return [_same(new, out)]
    return None


@node_rewriter("specialize", tags=("fast_run", "stability"), tracks=(S["log"],), reads=(S["add"],))
def log1p_specialize(fgraph, node):
    """log(1 + x) → log1p(x)."""
    a = node.inputs[0]
    if not is_op(a, "add"):
        return None
    p, q = a.owner.inputs
    for one, x in ((p, q), (q, p)):
        if scalar_const(one) == 1 and all(s == 1 for s in one.type.shape) and same_shape(x, a):
            return [_same(tm.log1p(x), node.outputs[0])]
    return None


@node_rewriter("specialize", tags=("fast_run", "stability"), tracks=(S["sub"],), reads=(S["exp"],))
def expm1_specialize(fgraph, node):
    """exp(x) - 1 → expm1(x)."""
    a, one = node.inputs
    if is_op(a, "exp") and scalar_const(one) == 1 and all(s == 1 for s in one.type.shape):
        return [_same(tm.expm1(a.owner.inputs[0]), node.outputs[0])]
    return None


def _keepdims_sum_of(v):
    """(x, axis) if ``v`` is sum(x, axis, keepdims=True) over one axis."""
    node = v.owner
    if node is None or not isinstance(node.op, DimShuffle):
        return None
    inner = node.inputs[0].owner
    if inner is None or not isinstance(inner.op, Sum) or len(inner.op.axis) != 1:
        return None
    axis = inner.op.axis[0]
    x = inner.inputs[0]
    expect = list(range(x.ndim - 1))
    expect.insert(axis, "x")
    if tuple(node.op.new_order) != tuple(expect):
        return None
    return x, axis


@node_rewriter("specialize", tracks=(S["true_div"],))
def softmax_specialize(fgraph, node):
    """exp(x) / sum(exp(x), axis, keepdims=True) → softmax(x, axis) (stable)."""
    e, s = node.inputs
    r = _keepdims_sum_of(s)
    if r is None or r[0] is not e or not is_op(e, "exp"):
        return None
    x = e.owner.inputs[0]
    return [_same(Softmax(r[1])(x), node.outputs[0])]


@node_rewriter(("canonicalize", "specialize"), tracks=(SumToShape,))
def sum_to_shape_useless(fgraph, node):
    """SumToShape(g, shape(x)) → g when g provably has x's shape (nothing to sum)."""
    g, shp = node.inputs
    if shp.owner is not None and isinstance(shp.owner.op, Shape):
        x = shp.owner.inputs[0]
        if same_shape(g, x):
            return [g]
        return None
    c = scalar_const(shp) if shp.ndim == 0 else None
    data = getattr(shp, "data", None)
    if data is not None and c is None:
        ok = all(gs == int(s) for gs, s in zip(g.type.shape, np.asarray(data)))
        return [g] if ok else None
    return None


@node_rewriter("specialize", tracks=(Sum,))
def sum_of_broadcast_axes(fgraph, node):
    """sum(dimshuffle(x, order with 'x' at axes A), axis=A) → x without those axes.

    A summed axis that a DimShuffle inserted has size 1: the sum is the value itself.
    The gradient of ``x·W + b`` for a bias ``b`` ends in this pair: the broadcast is
    summed with keepdims, then the inserted axis is summed away.
    """
    a = node.inputs[0]
    if type(node.op) is not Sum or a.owner is None or not isinstance(a.owner.op, DimShuffle):
        return None
    ds = a.owner.op
    if not set(node.op.axis) <= set(ds.augment):
        return None
    x = a.owner.inputs[0]
    order = tuple(d for i, d in enumerate(ds.new_order) if i not in node.op.axis)
    new = x if order == tuple(range(x.ndim)) else DimShuffle(x.ndim, order)(x)
    return [_same(new, node.outputs[0])]


def _elemwise_could_refine(node, out):
    """Whether some input of an elementwise ``node`` fixes a size (other than 1) that ``out``
    leaves unknown: read off the inputs' static shapes, without building a node."""
    for d, s in enumerate(out.type.shape):
        if s is None and any(i.type.shape[d] not in (None, 1) for i in node.inputs):
            return True
    return False


@node_rewriter(("canonicalize", "simplify", "specialize"), tracks=(Reshape, DimShuffle, Dot, Matmul))
def refine_static_shape(fgraph, node):
    """A node built before its inputs' sizes were known gets the static sizes they give now.

    The gradient of ``v.reshape((10, 35))`` reshapes back to ``shape(v)``, a constant only
    once constant folding has run, and a product with that result was typed with unknown
    sizes. Building the node again from its current inputs gives the same computation
    with a more precise type, so that the rewrites that follow see that shapes agree
    (``SumToShape`` with nothing to sum, a broadcast already of the result's shape).
    Sizes of 1 stay unknown: a static 1 would let the node's clients broadcast where they
    checked sizes before.
    """
    out = node.outputs[0]
    if len(node.outputs) != 1 or None not in out.type.shape:
        return None
    return _retyped(node, out)


@node_rewriter("specialize", tracks=(Elemwise, Subtensor))
def refine_static_shape_late(fgraph, node):
    """``refine_static_shape`` for elementwise nodes and subtensors, once, before the
    specialize phase's contractions read the sizes (every elementwise node meets it, so it
    runs in one phase only and first checks, from the operands' static shapes alone, that
    some size would become known)."""
    out = node.outputs[0]
    if len(node.outputs) != 1 or None not in out.type.shape:
        return None
    if isinstance(node.op, Elemwise) and not _elemwise_could_refine(node, out):
        return None
    return _retyped(node, out)


def _retyped(node, out):
    """``node`` built again from its current inputs, if that only makes its type more precise."""
    new = node.op.make_node(*node.inputs)
    if list(new.inputs) != list(node.inputs):
        return None  # the node would convert an input: not the same computation
    shape = tuple(o if s is None or s == 1 else s for s, o in zip(new.outputs[0].type.shape, out.type.shape))
    if shape == out.type.shape or new.outputs[0].type.shape != shape or new.outputs[0].dtype != out.dtype:
        return None
    return new.outputs


@node_rewriter("specialize", tracks=(Sum,))
def sum_of_scaled_matrix(fgraph, node):
    """sum(A · w[None, :], axis=1) → A·w and sum(A · v[:, None], axis=0) → v·A (A a matrix).

    One matrix-vector product instead of a full-size product and a reduction over it;
    reverse-over-reverse derivatives of ``tanh(X W + b) · w`` end in these. A stack of
    matrices (the same over leading axes, as a batched Hessian gives) becomes a
    ``matmul``. The same sums to rounding: the product adds the terms in its own order.
    ``A`` must not broadcast on the summed axis (its product with ``w`` would then not
    be a matrix product).
    """
    p, out = node.inputs[0], node.outputs[0]
    if type(node.op) is not Sum or len(node.op.axis) != 1 or p.ndim < 2:
        return None
    (axis,) = node.op.axis
    if axis < p.ndim - 2 or not is_op(p, "mul") or len(p.owner.inputs) != 2 or not out.dtype.startswith("float"):
        return None
    spread = ("x",) * axis + (0,) + ("x",) * (p.ndim - 1 - axis)
    for a, b in (p.owner.inputs, p.owner.inputs[::-1]):
        if b.owner is None or not isinstance(b.owner.op, DimShuffle) or tuple(b.owner.op.new_order) != spread:
            continue
        vec = b.owner.inputs[0]
        if a.ndim != p.ndim or a.type.shape[axis] == 1 or not a.dtype == vec.dtype == out.dtype:
            continue
        product = tm.dot if p.ndim == 2 else tm.matmul
        new = product(a, vec) if axis == p.ndim - 1 else product(vec, a)
        return [_same(new, out)] if new.ndim == out.ndim else None
    return None
