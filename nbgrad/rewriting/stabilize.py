"""Stabilization: forms that overflow, underflow or cancel, rewritten to forms that do not.

A course writes the logistic loss as the textbook does, ``p = 1 / (1 + exp(-x))``,
``-y·log(p) - (1 - y)·log(1 - p)``. In floating point ``p`` rounds to 1 once x passes
about 37 (float64) or 17 (float32), ``log(1 - p)`` is then ``log(0) = -inf`` and the cost
and its gradient are infinite or nan, although the exact values are small numbers. The
rewrites here replace such forms by ones that compute the same function without the
intermediate that rounds away:

==========================================  =====================================
form                                        becomes
==========================================  =====================================
``1 - sigmoid(x)``                          ``sigmoid(-x)``
``exp(x) · sigmoid(-x)``                    ``sigmoid(x)`` (``exp(x) / (1 + exp(x))``)
``exp(x) / (1 + exp(x))``                   ``sigmoid(x)``, before like terms are collected
``sigmoid(x) - sigmoid(x)²``                ``sigmoid(x) · sigmoid(-x)`` (its derivative)
``log(sigmoid(x))``                         ``log_sigmoid(x)`` = −softplus(−x)
``log1p(-sigmoid(x))``                      ``log_sigmoid(-x)`` (binary cross-entropy)
``log(1 + exp(x))``, ``log1p(exp(x))``      ``softplus(x)``
``log(sum(exp(x), axis))``                  the max-shifted log-sum-exp
``x - log(sum(exp(x), axis, keepdims))``    ``log_softmax(x)`` after the rewrite above
``log(softmax(x))``                         the log-softmax
``exp(x) · (w / sum(exp(x), axis))``        ``softmax(x, axis) · w`` (a gradient)
``sqrt(sqr(x))``                            ``abs(x)``
==========================================  =====================================

``log(1 + x)`` → ``log1p(x)``, ``exp(x) - 1`` → ``expm1(x)`` (``specialize``),
``log(exp(x))`` → ``x`` and ``cancel_reciprocal`` (``algebraic``) are the other rewrites
tagged ``stability``. Every mode that optimizes runs them (``FAST_RUN`` and
``FAST_COMPILE``): whether a loss is finite must not depend on the mode.

The gradient of a loss is built before any rewrite runs, from the loss as written:
``(1/p)·p·(1 - p)``, ``1/(1 - p)``. With ``1 - sigmoid(x)`` rewritten to ``sigmoid(-x)``
(one node, shared by every use) ``cancel_reciprocal`` cancels each reciprocal against its
factor, and the gradient of the logistic loss becomes ``(1 - y)·sigmoid(x) - y·sigmoid(-x)``.

A stabilized node prints as the formula it computes: ``log_sigmoid`` as
``log(sigmoid(x))``, the log-softmax and log-sum-exp made here as ``log(softmax(x))`` and
``log(sum(exp(x)))`` (``WrittenForm``), never as the formula that computes them.
"""

import numpy as np

from nbgrad.graph.basic import Constant
from nbgrad.rewriting.db import node_rewriter
from nbgrad.rewriting.patterns import S, chain_leaves, is_op, same_shape, scalar_const
from nbgrad.scalar import basic as ps
from nbgrad.tensor import math as tm
from nbgrad.tensor.elemwise import DimShuffle, Elemwise
from nbgrad.tensor.math import Sum
from nbgrad.tensor.nnet import LogSoftmax, LogSumExp, Softmax
from nbgrad.tensor.shape import Alloc
from nbgrad.tensor.type import TensorType
from nbgrad.tensor.variable import TensorConstant

__all__ = ["WrittenForm", "LogOfSoftmax", "LogOfSumExp", "log_sigmoid", "DOMAIN"]

_TAGS = ("fast_run", "stability")

#: ``log σ(x)``, elementwise (see ``nbgrad.scalar.basic.LogSigmoid``).
log_sigmoid = Elemwise(ps.scalar_ops["log_sigmoid"]())


class WrittenForm:
    """An op that computes an expression stably and prints as that expression.

    ``written_form(*inputs)`` builds the expression from the node's inputs; the
    printers show it in place of the node (it is never compiled).
    """

    def written_form(self, *inputs):
        raise NotImplementedError


class LogOfSoftmax(WrittenForm, LogSoftmax):
    """``log(softmax(x))`` as written, computed as the log-softmax along ``axis``."""

    def written_form(self, x):
        return tm.log(Softmax(self.axis)(x))


class LogOfSumExp(WrittenForm, LogSumExp):
    """``log(sum(exp(x), axis))`` as written, computed as the max-shifted log-sum-exp."""

    def written_form(self, x):
        return tm.log(tm.sum(tm.exp(x), axis=self.axis))


# Where each rewrite is exact: for these inputs the rewritten graph gives the value of
# the original to rounding; elsewhere the original overflows, underflows or rounds to
# 0 and the rewritten one gives the exact value (to rounding), which is why they are
# tagged 'stability'. nan gives nan, ±inf gives the limit.
DOMAIN = {
    "broadcast_constant": "every constant (the values do not change)",
    "share_sigmoid": "every x (the two nodes compute the same values)",
    "one_minus_sigmoid": "every x where sigmoid(x) is not within an ulp of 1 (x < 36 in float64, "
                         "x < 16 in float32); above, 1 - sigmoid(x) loses every digit and is 0 "
                         "from x ≈ 37, sigmoid(-x) keeps all of them",
    "exp_times_sigmoid_neg": "every x with exp(x) finite (x < 709 in float64, 88 in float32); "
                             "above, exp(x) · sigmoid(-x) is inf · 0 = nan and the result is "
                             "sigmoid(x) = 1",
    "exp_over_one_plus_exp": "every x with exp(x) finite (x < 709 in float64, 88 in float32); "
                             "above, the quotient is inf / inf = nan and the result is "
                             "sigmoid(x) = 1",
    "sigmoid_minus_square": "every x where sigmoid(x) is not within an ulp of 1 (x < 36 in "
                            "float64); above, the difference is 0 where sigmoid(x) · sigmoid(-x) "
                            "keeps every digit (and already loses them from x of a few units)",
    "log_sigmoid_form": "every x with sigmoid(x) > 0 and not rounded to 1 (-745 < x < 36 in "
                        "float64, -103 < x < 16 in float32); outside, log(sigmoid(x)) is -inf "
                        "or 0 and log_sigmoid(x) = -log(1 + exp(-x)) is exact",
    "softplus_form": "every x with exp(x) finite and 1 + exp(x) not rounded to 1 "
                     "(-36 < x < 709 in float64); outside, the original is inf or 0 and "
                     "softplus(x) is exact",
    "log_sum_exp": "every x whose exp sums to a finite, nonzero number; where it overflows "
                   "(an entry above 709) or underflows (all below -745) the original is "
                   "±inf and the max-shifted form is exact",
    "log_softmax_from_logsumexp": "every finite x (both sides are then the max-shifted forms); "
                                  "with an infinite entry the log-softmax is nan where "
                                  "x - log(sum(exp(x))) may be ±inf",
    "log_softmax_specialize": "every x where softmax(x) does not underflow to 0; where it does, "
                              "log(softmax(x)) is -inf and the log-softmax is exact",
    "exp_over_sum_exp": "every x whose exp neither overflows nor sums to 0; where it does the "
                        "quotient is inf/inf or 0/0 = nan and the softmax is exact (its gradient "
                        "of a log-sum-exp at far-apart logits)",
    "sqrt_sqr": "every real x where x² neither overflows nor underflows (1e-154 < |x| < 1e154 "
                "in float64); outside, sqrt(x²) is inf or 0 and abs(x) is exact",
}


def _one(c):
    """``c`` is the constant 1, in a shape that does not widen what it is added to."""
    return scalar_const(c) == 1 and all(s == 1 for s in c.type.shape)


def _one_or_ones(c):
    """``c`` is the constant 1, or 1 filled to a shape (``Alloc(1, ...)``, what a
    cancellation leaves); the rewrite checks that its result keeps the shape."""
    if isinstance(c.owner.op if c.owner else None, Alloc):
        c = c.owner.inputs[0]
        return scalar_const(c) == 1 and c.ndim == 0 or _one(c)
    return _one(c)


def _same(new, out, check=True):
    """``new`` as a replacement of ``out`` (same rank and shape; cast to its dtype), or None.

    ``check=False``: ``new`` has ``out``'s shape by construction (the shape rules do not
    see through a log-softmax or log-sum-exp node).
    """
    if new.ndim != out.ndim or check and not same_shape(new, out):
        return None
    return new if new.dtype == out.dtype else tm.cast(new, out.dtype)


def _existing(fgraph, op, x):
    """``op(x)``: the node already in the graph if there is one, so that every use shares it.

    ``cancel_reciprocal`` cancels ``1/a`` against ``a`` only when both are one variable;
    the forms made here from different nodes (the ``1 - sigmoid(x)`` of the loss and of
    sigmoid's own derivative) must therefore come out as one node.
    """
    for client, _ in fgraph.clients.get(x, ()):
        if client != "output" and client.op == op and len(client.inputs) == 1:
            return client.outputs[0]
    return op(x)


def _neg(fgraph, x):
    """-x, without a double negation."""
    if is_op(x, "neg"):
        return x.owner.inputs[0]
    return _existing(fgraph, tm.neg, x)


def _sigmoid_arg(v):
    """x if ``v`` is sigmoid(x), else None."""
    return v.owner.inputs[0] if is_op(v, "sigmoid") else None


def _negated_sigmoid_arg(v):
    """x if ``v`` is -sigmoid(x), else None."""
    return _sigmoid_arg(v.owner.inputs[0]) if is_op(v, "neg") else None


def _make(name):
    def deco(fn):
        fn.__doc__ = f"{fn.__doc__.rstrip()}\n\n    Exact for: {DOMAIN[name]}.\n    "
        return fn

    return deco


@node_rewriter("specialize", tags=("stability",), tracks=(DimShuffle,))
@_make("broadcast_constant")
def broadcast_constant(fgraph, node):
    """DimShuffle(c) → the constant c with the new axes, for a constant c of one element.

    ``1 - sigmoid(x)`` for a vector x is ``DimShuffle{x}(1) - sigmoid(x)``; FAST_RUN folds
    the broadcast with every other constant expression (``constant_folding``), FAST_COMPILE
    folds only this one, so that the stabilizing rewrites read the constant there too.
    Tagged 'stability' only: FAST_RUN has no need of it.
    """
    (c,) = node.inputs
    if not isinstance(c, Constant) or np.size(c.data) != 1:
        return None
    out = node.outputs[0]
    data = np.asarray(c.data).reshape((1,) * out.ndim)
    if out.type.shape != data.shape:
        return None
    return [TensorConstant(TensorType(out.dtype, data.shape), data.astype(out.dtype))]


@node_rewriter("specialize", tags=_TAGS, tracks=(S["sigmoid"], S["neg"]))
@_make("share_sigmoid")
def share_sigmoid(fgraph, node):
    """A second sigmoid(x) or -x of the same x → the first one.

    The rewrites of this phase make ``sigmoid(-x)`` from several forms, each its own
    node; ``cancel_reciprocal`` needs ``1/a`` and ``a`` to be one node.
    """
    (x,) = node.inputs
    for client, _ in fgraph.clients.get(x, ()):
        if client == "output" or client is node:
            continue
        if client.op == node.op and len(client.inputs) == 1:
            return [client.outputs[0]]
    return None


@node_rewriter("specialize", tags=_TAGS, tracks=(S["sub"], S["add"]), reads=(Constant, Alloc))
@_make("one_minus_sigmoid")
def one_minus_sigmoid(fgraph, node):
    """1 - sigmoid(x) → sigmoid(-x), also written 1 + -sigmoid(x); sigmoid(x) - 1 → -sigmoid(-x)."""
    out = node.outputs[0]
    a, b = node.inputs
    x = None
    if is_op(out, "sub") and _one_or_ones(a):
        x = _sigmoid_arg(b)
    elif is_op(out, "add"):
        x = (_negated_sigmoid_arg(b) if _one_or_ones(a)
             else _negated_sigmoid_arg(a) if _one_or_ones(b) else None)
    negate = False
    if x is None and is_op(out, "sub") and _one_or_ones(b):
        x, negate = _sigmoid_arg(a), True  # sigmoid(x) - 1 = -(1 - sigmoid(x))
    if x is None:
        return None
    new = _existing(fgraph, tm.sigmoid, _neg(fgraph, x))
    new = _same(tm.neg(new) if negate else new, out)
    return None if new is None else [new]


@node_rewriter("specialize", tags=_TAGS, tracks=(S["mul"],), chain=True, reads=(S["exp"],))
@_make("exp_times_sigmoid_neg")
def exp_times_sigmoid_neg(fgraph, node):
    """exp(x) · sigmoid(-x) → sigmoid(x) inside a product.

    ``exp(x) / (1 + exp(x))`` once its division is a product, and the gradient of the
    logistic loss when its logit is written ``-x·w - b`` (no node ``x·w + b`` to negate).
    """
    out = node.outputs[0]
    if not out.dtype.startswith("float"):
        return None
    leaves = chain_leaves(fgraph, out, out, "mul", out.dtype)
    exps = {}
    for i, e in enumerate(leaves):
        if is_op(e, "exp"):
            exps.setdefault(e.owner.inputs[0], i)
    if not exps:
        return None
    for j, s in enumerate(leaves):
        x = _sigmoid_arg(s)
        i = exps.get(x.owner.inputs[0]) if x is not None and is_op(x, "neg") else None
        if i is None:
            continue
        rest = [v for k, v in enumerate(leaves) if k not in (i, j)]
        new = _existing(fgraph, tm.sigmoid, x.owner.inputs[0])
        for v in rest:
            new = tm.mul(new, v)
        # the factors are the product's, with sigmoid(x) for exp(x) (of x's shape): the
        # product keeps its shape
        new = _same(new, out, check=False) if new.type.shape == out.type.shape else None
        return None if new is None else [new]
    return None


@node_rewriter(("simplify", "specialize"), tags=_TAGS, tracks=(S["true_div"],), reads=(S["exp"],))
@_make("exp_over_one_plus_exp")
def exp_over_one_plus_exp(fgraph, node):
    """exp(x) / (1 + exp(x)) → sigmoid(x), before like terms are collected.

    Runs in ``simplify`` as well: the gradient of ``log(exp(x) / (1 + exp(x)))`` holds
    ``1 / u`` beside ``u / (1 + exp(x))``; with ``u`` one sigmoid node, ``cancel_reciprocal``
    cancels them before the polynomial rewrites take ``exp(x)`` out as a common factor
    (after which ``exp(x) · sigmoid(-x)`` overflows to inf · 0 at x = 800).
    """
    e, d = node.inputs
    out = node.outputs[0]
    if not is_op(e, "exp") or not is_op(d, "add") or not out.dtype.startswith("float"):
        return None
    a, b = d.owner.inputs
    f = b if _one(a) else a if _one(b) else None
    # the two exp(x) may be two nodes of one x (no merge in FAST_COMPILE)
    if f is None or not is_op(f, "exp") or f.owner.inputs[0] is not e.owner.inputs[0]:
        return None
    new = _same(_existing(fgraph, tm.sigmoid, e.owner.inputs[0]), out)
    return None if new is None else [new]


def _factor_keys(fgraph, v, dtype):
    """The factors of the product ``v`` as a multiset: sigmoid(x) counted by its x (two
    nodes of one x are one factor: FAST_COMPILE does not merge them), s ** 2 as s twice."""
    keys = {}
    for f in chain_leaves(fgraph, v, v, "mul", dtype):
        n = 1
        if is_op(f, "sqr") or is_op(f, "pow") and scalar_const(f.owner.inputs[1]) == 2:
            f, n = f.owner.inputs[0], 2
        x = _sigmoid_arg(f)
        key = ("sigmoid", x) if x is not None else f
        keys[key] = keys.get(key, 0) + n
    return keys


def _may_hold_sigmoid(v):
    """Whether ``_factor_keys`` of ``v`` may count a sigmoid: ``v`` is a sigmoid, its square or
    power, or a product."""
    if is_op(v, "sqr") or is_op(v, "pow"):
        v = v.owner.inputs[0]
    return is_op(v, "sigmoid") or is_op(v, "mul")


@node_rewriter("specialize", tags=_TAGS, tracks=(S["sub"], S["add"]))
@_make("sigmoid_minus_square")
def sigmoid_minus_square(fgraph, node):
    """F · sigmoid(x) - F · sigmoid(x)² → F · sigmoid(x) · sigmoid(-x), also written
    -F · sigmoid(x)² + F · sigmoid(x), and F · sigmoid(x)² - F · sigmoid(x) → its negation.

    The derivative of sigmoid when it is written ``exp(x) / (1 + exp(x))``; the difference
    cancels every digit of sigmoid(-x) once x passes a few units.
    """
    out = node.outputs[0]
    if not out.dtype.startswith("float"):
        return None
    a, b = node.inputs
    if is_op(out, "sub"):
        pairs = [(a, b)]
    else:
        pairs = [(a, b.owner.inputs[0]) if is_op(b, "neg") else (None, None),
                 (b, a.owner.inputs[0]) if is_op(a, "neg") else (None, None)]
    for pos, neg in pairs:
        if pos is None or pos.dtype != out.dtype or neg.dtype != out.dtype:
            continue
        if not (_may_hold_sigmoid(pos) or _may_hold_sigmoid(neg)):
            continue  # no factor sigmoid(x) on either side (1 - tanh(y)², the tanh gradient's)
        p, q = _factor_keys(fgraph, pos, out.dtype), _factor_keys(fgraph, neg, out.dtype)
        diff = [k for k in set(p) | set(q) if p.get(k, 0) != q.get(k, 0)]
        if len(diff) != 1 or not isinstance(diff[0], tuple):
            continue
        k = diff[0]
        if q.get(k, 0) == p.get(k, 0) + 1:  # F·s - F·s² = F·s·sigmoid(-x)
            new = tm.mul(pos, _existing(fgraph, tm.sigmoid, _neg(fgraph, k[1])))
        elif p.get(k, 0) == q.get(k, 0) + 1:  # F·s² - F·s = -(F·s·sigmoid(-x))
            new = tm.neg(tm.mul(neg, _existing(fgraph, tm.sigmoid, _neg(fgraph, k[1]))))
        else:
            continue
        new = _same(new, out)
        return None if new is None else [new]
    return None


@node_rewriter("specialize", tags=_TAGS, tracks=(S["log"], S["log1p"]))
@_make("log_sigmoid_form")
def log_sigmoid_form(fgraph, node):
    """log(sigmoid(x)) → log_sigmoid(x) and log1p(-sigmoid(x)) → log_sigmoid(-x).

    ``log(1 - sigmoid(x))`` becomes ``log(sigmoid(-x))`` first (``one_minus_sigmoid``).
    """
    out = node.outputs[0]
    a = node.inputs[0]
    if is_op(out, "log"):
        x = _sigmoid_arg(a)
    else:
        x = _negated_sigmoid_arg(a)
        x = None if x is None else _neg(fgraph, x)
    if x is None:
        return None
    new = _same(log_sigmoid(x), out)
    return None if new is None else [new]


@node_rewriter("specialize", tags=_TAGS, tracks=(S["log"], S["log1p"]))
@_make("softplus_form")
def softplus_form(fgraph, node):
    """log(1 + exp(x)) → softplus(x), also log1p(exp(x))."""
    out = node.outputs[0]
    a = node.inputs[0]
    e = None
    if is_op(out, "log1p"):
        e = a
    elif is_op(a, "add"):
        p, q = a.owner.inputs
        e = q if _one(p) else p if _one(q) else None
    if e is None or not is_op(e, "exp"):
        return None
    new = _same(tm.softplus(e.owner.inputs[0]), out)
    return None if new is None else [new]


def _keepdims(v):
    """(r, op) if ``v`` is op(r) for a DimShuffle ``op`` that only inserts axes, else (v, None)."""
    node = v.owner
    if node is None or not isinstance(node.op, DimShuffle) or node.op.drop:
        return v, None
    kept = [d for d in node.op.new_order if d != "x"]
    if kept != list(range(node.inputs[0].ndim)):
        return v, None
    return node.inputs[0], node.op


@node_rewriter("specialize", tags=_TAGS, tracks=(S["log"],))
@_make("log_sum_exp")
def log_sum_exp(fgraph, node):
    """log(sum(exp(x), axis)) → log-sum-exp of x over ``axis``, with keepdims too."""
    out = node.outputs[0]
    s, expand = _keepdims(node.inputs[0])
    if s.owner is None or type(s.owner.op) is not Sum or not s.owner.op.axis:
        return None
    e = s.owner.inputs[0]
    if not is_op(e, "exp"):
        return None
    x = e.owner.inputs[0]
    if not x.dtype.startswith("float") or e.dtype != x.dtype or s.dtype != x.dtype:
        return None
    new = LogOfSumExp(s.owner.op.axis)(x)
    if expand is not None:
        new = expand(new)
    new = _same(new, out, check=False)
    return None if new is None else [new]


@node_rewriter("specialize", tags=_TAGS, tracks=(S["sub"],))
@_make("log_softmax_from_logsumexp")
def log_softmax_from_logsumexp(fgraph, node):
    """x - log(sum(exp(x), axis, keepdims=True)) → log_softmax(x, axis) for one axis.

    It reads the form ``log_sum_exp`` leaves: x - logsumexp(x, axis, keepdims=True).
    """
    x, l = node.inputs
    r, expand = _keepdims(l)
    # only the log-sum-exp made from log(sum(exp(x))): a logsumexp the user called keeps its
    # limits at infinite entries (its gradient's exp(x - logsumexp(x)) is 0 for x = [inf, 1])
    if expand is None or r.owner is None or not isinstance(r.owner.op, LogOfSumExp):
        return None
    axis = r.owner.op.axis
    if len(axis) != 1 or r.owner.inputs[0] is not x or expand.new_order[axis[0]] != "x":
        return None
    new = _same(LogSoftmax(axis[0])(x), node.outputs[0], check=False)
    return None if new is None else [new]


@node_rewriter("specialize", tags=_TAGS, tracks=(S["log"],))
@_make("log_softmax_specialize")
def log_softmax_specialize(fgraph, node):
    """log(softmax(x)) → the log-softmax of x, along the softmax's axis (every rank)."""
    a = node.inputs[0]
    if a.owner is None or type(a.owner.op) is not Softmax:
        return None
    new = _same(LogOfSoftmax(a.owner.op.axis)(a.owner.inputs[0]), node.outputs[0], check=False)
    return None if new is None else [new]


def _sum_of_exp(v):
    """(x, axis, dims) if ``v`` is sum(exp(x), axis), possibly with its axes kept, else None.

    ``dims``: for each axis of ``v``, the axis of x it runs along (None: a kept axis).
    """
    s, expand = _keepdims(v)
    if s.owner is None or type(s.owner.op) is not Sum or len(s.owner.op.axis) != 1:
        return None
    e = s.owner.inputs[0]
    if not is_op(e, "exp") or e.dtype != s.dtype:
        return None
    x, axis = e.owner.inputs[0], s.owner.op.axis[0]
    dims = [d for d in range(x.ndim) if d != axis]
    if expand is not None:
        dims = [None if o == "x" else dims[o] for o in expand.new_order]
    return x, axis, dims


def _ones(v):
    """The constant 1 with ``v``'s rank and dtype, of size 1 in every axis."""
    shape = (1,) * v.ndim
    return TensorConstant(TensorType(v.dtype, shape), np.ones(shape, dtype=v.dtype))


# how deep _share_of looks through the broadcasts and products of a gradient
_SHARE_DEPTH = 8


def _share_of(v, depth=_SHARE_DEPTH):
    """(x, axis, dims, w) if ``v`` is w / sum(exp(x), axis), broadcast back, else None.

    ``v`` may be n / s, reciprocal(s), a product holding one of them, or an Alloc, a
    DimShuffle or a sum over an axis of size 1 of one of them: the forms in which a gradient (and
    FAST_COMPILE, which leaves the gradient's broadcasts in place) brings the reciprocal
    of a sum of exponentials next to exp(x). ``w`` is ``v`` with 1 for 1/s; ``dims``
    gives the axis of x each axis of ``v`` runs along (None: a broadcast axis).
    """
    node = v.owner
    if node is None or depth == 0:
        return None
    if is_op(v, "true_div") or is_op(v, "reciprocal"):
        found = _sum_of_exp(node.inputs[-1])
        if found is None or node.inputs[-1].ndim != v.ndim:
            return None
        x, axis, dims = found
        return x, axis, dims, node.inputs[0] if len(node.inputs) == 2 else _ones(v)
    if is_op(v, "mul") and len(node.inputs) == 2:
        for k in (0, 1):
            found = _share_of(node.inputs[k], depth - 1)
            if found is not None and node.inputs[k].ndim == v.ndim:
                x, axis, dims, w = found
                return x, axis, dims, tm.mul(w, node.inputs[1 - k]) if k == 0 else tm.mul(node.inputs[0], w)
        return None
    if isinstance(node.op, Alloc):
        found = _share_of(node.inputs[0], depth - 1)
        if found is None:
            return None
        x, axis, dims, w = found
        return x, axis, [None] * (v.ndim - len(dims)) + dims, tm.alloc(w, *node.inputs[1:])
    if isinstance(node.op, DimShuffle):
        found = _share_of(node.inputs[0], depth - 1)
        if found is None or not _broadcast_only(found, node.op.drop):
            return None
        x, axis, dims, w = found
        return x, axis, [None if o == "x" else dims[o] for o in node.op.new_order], node.op(w)
    if type(node.op) is Sum:  # the gradient of a kept axis: a sum over that one element
        found = _share_of(node.inputs[0], depth - 1)
        if found is None or not _broadcast_only(found, node.op.axis):
            return None
        x, axis, dims, w = found
        return x, axis, [d for k, d in enumerate(dims) if k not in node.op.axis], node.op(w)
    return None


def _broadcast_only(found, axes):
    """Every axis in ``axes`` is a broadcast axis of size 1 (of x's share and of its ``w``)."""
    _, _, dims, w = found
    return all(dims[a] is None and w.type.shape[a] == 1 for a in axes)


def _aligned(found, x):
    """The share found runs along x's axes, broadcast along the summed one."""
    fx, axis, dims, _ = found
    return fx is x and dims == [None if d == axis else d for d in range(x.ndim)]


@node_rewriter("specialize", tags=_TAGS, tracks=(S["mul"], S["true_div"]), chain=True, reads=(S["exp"],))
@_make("exp_over_sum_exp")
def exp_over_sum_exp(fgraph, node):
    """exp(x) · (w / sum(exp(x), axis)) → softmax(x, axis) · w, also exp(x) / sum(exp(x), axis).

    The gradient of a hand-written log(sum(exp(x))) has this form, with ``w`` the
    gradient reaching the log (1 for a plain sum, 1/n for a mean) and the quotient
    broadcast back over ``axis``; written out it is inf / inf at logits that far apart.
    """
    out = node.outputs[0]
    if not out.dtype.startswith("float"):
        return None
    if is_op(out, "true_div"):
        e, d = node.inputs
        found = _sum_of_exp(d)
        if found is None or not is_op(e, "exp") or e.ndim != out.ndim:
            return None
        x, axis, dims = found
        if not _aligned((x, axis, dims, None), e.owner.inputs[0]):
            return None
        new = _same(Softmax(axis)(x), out, check=False)
        return None if new is None else [new]
    leaves = chain_leaves(fgraph, out, out, "mul", out.dtype)
    for i, e in enumerate(leaves):
        if not is_op(e, "exp") or e.ndim != out.ndim:
            continue
        x = e.owner.inputs[0]
        for j, v in enumerate(leaves):
            found = _share_of(v) if j != i and v.ndim == out.ndim else None
            if found is None or not _aligned(found, x):
                continue
            new = tm.mul(Softmax(found[1])(x), found[3])
            for k, rest in enumerate(leaves):
                if k not in (i, j):
                    new = tm.mul(new, rest)
            new = _same(new, out, check=False)
            if new is not None:
                return [new]
    return None


@node_rewriter("specialize", tags=_TAGS, tracks=(S["sqrt"],))
@_make("sqrt_sqr")
def sqrt_sqr(fgraph, node):
    """sqrt(sqr(x)) → abs(x) for real x, also sqrt(x ** 2) and sqrt(x * x)."""
    out = node.outputs[0]
    a = node.inputs[0]
    x = None
    if is_op(a, "sqr"):
        x = a.owner.inputs[0]
    elif is_op(a, "pow"):
        b, e = a.owner.inputs
        x = b if scalar_const(e) == 2 and all(n == 1 for n in e.type.shape) else None
    elif is_op(a, "mul") and a.owner.inputs[0] is a.owner.inputs[1]:
        x = a.owner.inputs[0]
    if x is None or x.dtype != out.dtype or not np.dtype(x.dtype).kind == "f":
        return None
    new = _same(tm.abs(x), out)
    return None if new is None else [new]
