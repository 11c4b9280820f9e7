"""Algebraic simplification: identities that make a graph smaller.

One-line identities are rows of ``IDENTITIES``: (name, scalar op, test, result).
``test(node)`` returns the operands the result is built from, or None. Each
row becomes a node rewrite of the ``simplify`` phase. Identities that only
hold for finite values (x*0 → 0, x-x → 0, x/x → 1) fire when the operand is
provably finite (and nonzero); their unconditional forms are tagged ``unsafe``.
"""

import numpy as np

from nbgrad.rewriting.db import node_rewriter
from nbgrad.rewriting.patterns import (
    S, is_op, known_finite, known_nonzero, only_client, same_shape, scalar_const, sop,
)
from nbgrad.tensor import math as tm
from nbgrad.tensor.basic import constant
from nbgrad.tensor.elemwise import Elemwise
from nbgrad.tensor.math import Sum
from nbgrad.tensor.shape import Alloc


def _fits(x, out):
    """``x`` can stand for ``out``: same rank and provably the same shape."""
    return x.ndim == out.ndim and same_shape(x, out)


def _unit(node, value, positions=(0, 1)):
    """If one operand is the constant ``value`` (broadcast-neutral), the other one."""
    out = node.outputs[0]
    for k in positions:
        c, x = node.inputs[k], node.inputs[1 - k]
        if scalar_const(c) == value and all(s == 1 for s in c.type.shape) and _fits(x, out):
            return (x,)
    return None


def _signed_zero_ok(node, negative):
    """Every zero operand of ``node`` has the sign that keeps x ± 0 equal to x (floats only)."""
    if not node.outputs[0].dtype.startswith(("float", "complex")):
        return True
    for c in node.inputs:
        if scalar_const(c) == 0:
            d = np.asarray(c.data)
            if not (np.signbit(d.real) == negative).all():
                return False
    return True


def _cast_like(x, out):
    return x if x.dtype == out.dtype else tm.cast(x, out.dtype)


def _fill(value, out, like):
    """``value`` broadcast to ``like``'s shape with ``out``'s dtype."""
    c = constant(np.asarray(value, dtype=out.dtype))
    return tm.alloc(c, *[tm._shape_list(like)[d] for d in range(like.ndim)])


def _finite(node, safe):
    return not safe or all(known_finite(i) for i in node.inputs)


# name, scalar op, test(node) -> operands or None, build(out, *operands) -> variable
IDENTITIES = [
    ("mul_by_one", "mul", lambda n: _unit(n, 1), lambda out, x: _cast_like(x, out)),
    # -0.0 + 0.0 is +0.0: in floating point only x + (-0.0) and x - (+0.0) give x back
    ("add_zero", "add", lambda n: _unit(n, 0) if _signed_zero_ok(n, True) else None,
     lambda out, x: _cast_like(x, out)),
    ("sub_zero", "sub", lambda n: _unit(n, 0, (1,)) if _signed_zero_ok(n, False) else None,
     lambda out, x: _cast_like(x, out)),
    ("div_by_one", "true_div", lambda n: _unit(n, 1, (1,)), lambda out, x: _cast_like(x, out)),
    ("pow_one", "pow", lambda n: _unit(n, 1, (1,)), lambda out, x: _cast_like(x, out)),
    # x ** 0 is 1 for every x in NumPy, 0, inf and nan included
    ("pow_zero", "pow", lambda n: _unit(n, 0, (1,)), lambda out, x: _fill(1, out, x)),
    ("mul_by_minus_one", "mul", lambda n: _unit(n, -1), lambda out, x: _cast_like(tm.neg(x), out)),
    ("neg_neg", "neg", lambda n: (n.inputs[0].owner.inputs[0],) if is_op(n.inputs[0], "neg") else None,
     lambda out, x: x),
    ("sub_neg", "sub", lambda n: (n.inputs[0], n.inputs[1].owner.inputs[0]) if is_op(n.inputs[1], "neg")
     else None, lambda out, a, b: tm.add(a, b)),
    ("add_neg", "add", lambda n: (n.inputs[0], n.inputs[1].owner.inputs[0]) if is_op(n.inputs[1], "neg")
     else None, lambda out, a, b: tm.sub(a, b)),
    ("neg_sub", "neg", lambda n: tuple(n.inputs[0].owner.inputs) if is_op(n.inputs[0], "sub") else None,
     lambda out, a, b: tm.sub(b, a)),
    ("mul_neg", "mul", lambda n: _neg_operand(n), lambda out, a, b: _cast_like(tm.neg(tm.mul(a, b)), out)),
    ("log_exp", "log", lambda n: (n.inputs[0].owner.inputs[0],) if is_op(n.inputs[0], "exp") else None,
     lambda out, x: x),
    # switch(c, a, a) -> a, when the condition cannot add size (all its axes have size 1)
    ("switch_same", "switch",
     lambda n: (n.inputs[1],) if n.inputs[1] is n.inputs[2] and all(
         s == 1 for s in n.inputs[0].type.shape) else None,
     lambda out, x: _cast_like(x, out)),
]
# identities that need finite (or nonzero) operands; the unconditional forms are "unsafe"
GUARDED = [
    ("mul_by_zero", "mul", lambda n, safe: _zero_operand(n, safe),
     lambda out, like: _fill(0, out, like)),
    ("sub_self", "sub", lambda n, safe: (n.inputs[0],) if n.inputs[0] is n.inputs[1] and _finite(n, safe)
     else None, lambda out, like: _fill(0, out, like)),
    ("div_self", "true_div", lambda n, safe: (n.inputs[0],) if n.inputs[0] is n.inputs[1] and (
        not safe or known_finite(n.inputs[0]) and known_nonzero(n.inputs[0])) else None, lambda out, like: _fill(1, out, like)),
]
# stability: the result can be finite where the original overflowed
STABILITY = {"log_exp"}


def _neg_operand(node):
    """(a, b) if node is a * (-b) or (-b) * a: the negation moves out of the product."""
    a, b = node.inputs
    if is_op(b, "neg"):
        return a, b.owner.inputs[0]
    if is_op(a, "neg"):
        return a.owner.inputs[0], b
    return None


def _zero_operand(node, safe):
    """x*0 → zeros shaped like the output, when x is finite and the zero does not widen it."""
    out = node.outputs[0]
    for k in (0, 1):
        c, x = node.inputs[k], node.inputs[1 - k]
        if scalar_const(c) == 0 and (not safe or known_finite(x)) and _fits(x, out):
            return (x,)
    return None


def _make(name, sname, test, build, tags, phases="simplify"):
    def rewrite(fgraph, node):
        ops = test(node)
        if ops is None:
            return None
        new = build(node.outputs[0], *ops)
        return [new]

    rewrite.__name__ = name
    rewrite.__doc__ = f"Identity {name} on {sname}."
    node_rewriter(phases, tags=tags, tracks=(S[sname],), name=name)(rewrite)


for _name, _sname, _test, _build in IDENTITIES:
    _make(_name, _sname, _test, _build, ("fast_run", "stability") if _name in STABILITY else ("fast_run",),
          ("simplify", "specialize"))
for _name, _sname, _test, _build in GUARDED:
    _make(_name, _sname, (lambda t: lambda n: t(n, True))(_test), _build, ("fast_run",))
    _make("unsafe_" + _name, _sname, (lambda t: lambda n: t(n, False))(_test), _build, ("unsafe",))


@node_rewriter("simplify", tracks=(Elemwise,))
def elemwise_alloc(fgraph, node):
    """f(x, Alloc(v, *shape of x)) → f(x, v): an operand broadcast to a shape others already give."""
    out = node.outputs[0]
    new_inputs, changed = list(node.inputs), False
    for k, a in enumerate(node.inputs):
        if a.owner is None or not isinstance(a.owner.op, Alloc):
            continue
        v = a.owner.inputs[0]
        others = [i for j, i in enumerate(new_inputs) if j != k]
        if not others:
            continue
        if not any(_fits(o, out) and same_shape(o, a) for o in others):
            continue
        if v.dtype != a.dtype:
            continue
        new_inputs[k] = v
        changed = True
    if not changed:
        return None
    new = node.op(*new_inputs)
    if new.ndim != out.ndim or new.dtype != out.dtype:
        return None
    return [new]


def _power(v):
    """(base, exponent) if ``v`` is base**c for a constant c ≥ 0, or v itself (v**1)."""
    if is_op(v, "pow"):
        b, e = v.owner.inputs
        c = scalar_const(e)
        if c is not None and c >= 0 and all(s == 1 for s in e.type.shape):
            return b, c
        return None
    if is_op(v, "sqr"):
        return v.owner.inputs[0], 2
    return v, 1


@node_rewriter("simplify", tracks=(S["mul"],))
def mul_powers(fgraph, node):
    """x**a * x**b → x**(a+b) for constants a, b ≥ 0 (exact for every x, 0 and ±inf included)."""
    a, b = node.inputs
    pa, pb = _power(a), _power(b)
    if pa is None or pb is None or pa[0] is not pb[0]:
        return None
    if pa[1] == 1 and pb[1] == 1 and a is b:
        base, e = a, 2
    else:
        base, e = pa[0], pa[1] + pb[1]
    out = node.outputs[0]
    if not _fits(base, out):
        return None
    return [_cast_like(tm.pow(base, constant(np.asarray(e, dtype=out.dtype))), out)]


@node_rewriter("simplify", tracks=(Sum,))
def sum_alloc(fgraph, node):
    """sum(Alloc(v, *shape)) over all axes → v · (product of the summed sizes) for scalar v."""
    a = node.inputs[0]
    if a.owner is None or not isinstance(a.owner.op, Alloc) or node.outputs[0].ndim != 0:
        return None
    v, *shape = a.owner.inputs
    if v.ndim != 0 or not shape or not only_client(fgraph, a, node):
        return None
    # v·n equals the sum for every v (inf and nan included) unless n can be 0
    sizes = [scalar_const(s) for s in shape]
    if not known_finite(v) and not all(n is not None and n > 0 for n in sizes):
        return None
    count = shape[0]
    for s in shape[1:]:
        count = count * s
    out = node.outputs[0]
    return [_cast_like(tm.mul(tm.cast(v, out.dtype), tm.cast(count, out.dtype)), out)]


__all__ = ["IDENTITIES", "GUARDED", "elemwise_alloc", "mul_powers", "sum_alloc", "sop"]
