"""Algebraic simplification: identities that make a graph smaller.

One-line identities are rows of ``IDENTITIES``: (name, scalar op, test, result).
``test(node)`` returns the operands the result is built from, or None. Each
row becomes a node rewrite of the ``simplify`` phase. Identities that only
hold for finite values (x*0 → 0, x-x → 0, x/x → 1) fire when the operand is
provably finite (and nonzero); their unconditional forms are tagged ``unsafe``.
``cancel_reciprocal`` cancels (1/a) · a inside a product for forms a that are never
zero (sigmoid, 1 - sigmoid, exp); it is tagged ``stability``.
"""

import numpy as np

from nbgrad.graph.basic import Constant
from nbgrad.rewriting.db import node_rewriter
from nbgrad.rewriting.patterns import (
    S, chain_leaves, dim_key, is_op, known_finite, known_nonnegative, known_nonzero, only_client,
    same_shape, scalar_const, sop, tree_leaves, tree_rebuild, zero_sign_ignored,
)
from nbgrad.scalar import basic as ps
from nbgrad.tensor import math as tm
from nbgrad.tensor.basic import constant
from nbgrad.tensor.elemwise import Elemwise
from nbgrad.tensor.math import Sum
from nbgrad.tensor.shape import Alloc

#: 1 where x is a number, nan where it is nan (``nbgrad.scalar.basic.Unit``)
unit_of = Elemwise(ps.scalar_ops["unit"]())


def _fits(x, out):
    """``x`` can stand for ``out``: same rank and provably the same shape."""
    return x.ndim == out.ndim and same_shape(x, out)


def _unit(node, value, positions=(0, 1)):
    """If one operand is the constant ``value`` everywhere, the other one.

    The constant broadcasts on every axis, or has there the static size of the other
    operand (a full array of ones, as a gradient seed folds to): no size check is lost.
    """
    out = node.outputs[0]
    for k in positions:
        c, x = node.inputs[k], node.inputs[1 - k]
        if scalar_const(c) != value or not _fits(x, out):
            continue
        if all(s == 1 for s in c.type.shape) or c.ndim == x.ndim and all(
                s == 1 or (s == xs and xs is not None) for s, xs in zip(c.type.shape, x.type.shape)):
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


# name, scalar op, test(node, fgraph) -> operands or None, build(out, *operands) -> variable
IDENTITIES = [
    ("mul_by_one", "mul", lambda n, fg: _unit(n, 1), lambda out, x: _cast_like(x, out)),
    # -0.0 + 0.0 is +0.0: in floating point only x + (-0.0) and x - (+0.0) give x back
    ("add_zero", "add", lambda n, fg: _unit(n, 0) if _signed_zero_ok(n, True) else None,
     lambda out, x: _cast_like(x, out)),
    ("sub_zero", "sub", lambda n, fg: _unit(n, 0, (1,)) if _signed_zero_ok(n, False) else None,
     lambda out, x: _cast_like(x, out)),
    ("div_by_one", "true_div", lambda n, fg: _unit(n, 1, (1,)), lambda out, x: _cast_like(x, out)),
    ("pow_one", "pow", lambda n, fg: _unit(n, 1, (1,)), lambda out, x: _cast_like(x, out)),
    ("pow_zero", "pow", lambda n, fg: _unit(n, 0, (1,)), lambda out, x: _fill(1, out, x)),
    ("mul_by_minus_one", "mul", lambda n, fg: _unit(n, -1), lambda out, x: _cast_like(tm.neg(x), out)),
    ("neg_neg", "neg", lambda n, fg: (n.inputs[0].owner.inputs[0],) if is_op(n.inputs[0], "neg") else None,
     lambda out, x: x),
    ("sub_neg", "sub", lambda n, fg: (n.inputs[0], n.inputs[1].owner.inputs[0]) if is_op(n.inputs[1], "neg")
     else None, lambda out, a, b: tm.add(a, b)),
    ("add_neg", "add", lambda n, fg: (n.inputs[0], n.inputs[1].owner.inputs[0]) if is_op(n.inputs[1], "neg")
     else None, lambda out, a, b: tm.sub(a, b)),
    ("neg_sub", "neg", lambda n, fg: _neg_of_difference(n, fg), lambda out, a, b: tm.sub(b, a)),
    ("mul_neg", "mul", lambda n, fg: _neg_operand(n), lambda out, a, b: _cast_like(tm.neg(tm.mul(a, b)), out)),
    ("log_exp", "log", lambda n, fg: (n.inputs[0].owner.inputs[0],) if is_op(n.inputs[0], "exp") else None,
     lambda out, x: x),
    ("switch_same", "switch",
     lambda n, fg: (n.inputs[1],) if n.inputs[1] is n.inputs[2] and all(
         s == 1 for s in n.inputs[0].type.shape) else None,
     lambda out, x: _cast_like(x, out)),
    ("switch_const", "switch", lambda n, fg: _taken_branch(n), lambda out, x: _cast_like(x, out)),
]
# identities that need finite (or nonzero) operands; the unconditional forms are "unsafe"
GUARDED = [
    ("mul_by_zero", "mul", lambda n, safe: _zero_operand(n, safe),
     lambda out, like, zero: _fill(zero, out, like)),
    ("sub_self", "sub", lambda n, safe: (n.inputs[0],) if n.inputs[0] is n.inputs[1] and _finite(n, safe)
     else None, lambda out, like: _fill(0, out, like)),
    ("div_self", "true_div", lambda n, safe: (n.inputs[0],) if n.inputs[0] is n.inputs[1] and (
        not safe or known_finite(n.inputs[0]) and known_nonzero(n.inputs[0])) else None,
     lambda out, like: _fill(1, out, like)),
]
# Where each identity is exact: for the inputs named here the rewritten graph gives the
# same value as the original (to rounding), with the same inf, nan and sign of zero.
DOMAIN = {
    "mul_by_one": "every x (x * 1 is x, -0.0, inf and nan included)",
    "add_zero": "every x, for a zero operand of sign bit set (x + -0.0 is x; x + +0.0 is not for "
                "x = -0.0, and is left alone)",
    "sub_zero": "every x, for a zero of sign bit clear (x - +0.0 is x)",
    "div_by_one": "every x",
    "pow_one": "every x (NumPy's x ** 1 is x)",
    "pow_zero": "every x (NumPy's x ** 0 is 1 for 0, inf and nan too)",
    "mul_by_minus_one": "every x (x * -1 is -x, the sign of zero included)",
    "neg_neg": "every x",
    "sub_neg": "every a, b (a - (-b) is a + b in IEEE arithmetic)",
    "add_neg": "every a, b (a + (-b) is a - b in IEEE arithmetic)",
    "neg_sub": "a ≠ b, or integers; for a = b, -(a - b) is -0.0 and b - a is +0.0, so the "
               "rewrite fires only where every use of the result ignores the sign of zero "
               "(abs, x ** 2, exp, a comparison, c + result for a constant c ≠ 0, ...)",
    "mul_neg": "every a, b (a * (-b) is -(a * b) in IEEE arithmetic, the sign of zero included)",
    "log_exp": "every x where exp(x) neither overflows nor underflows (|x| < 708) and x ≠ -0.0; "
               "elsewhere the result is x, the exact value, where the original gives ±inf "
               "or +0.0 (tagged 'stability')",
    "switch_same": "every condition that does not widen the result",
    "switch_const": "every operand: the condition is a constant, the same everywhere, so the "
                    "result is the branch it picks (when that branch has the result's shape)",
    "mul_by_zero": "x finite and never negative (no -0.0): x * ±0.0 is then ±0.0; the 'unsafe' "
                   "form also for inf and nan (where x * 0 is nan) and negative x (-0.0)",
    "sub_self": "x finite (x - x is +0.0); the 'unsafe' form also for inf and nan (nan there)",
    "div_self": "x finite and nonzero; the 'unsafe' form also for 0, inf and nan (nan there)",
}
# stability: the result is the exact value where the original overflows or underflows; the
# sign identities run with them (in FAST_COMPILE too): cancel_reciprocal finds a reciprocal
# and its factor in one product only once the negations are out of it
STABILITY = {"log_exp", "neg_neg", "mul_neg", "mul_by_minus_one", "add_neg", "sub_neg"}


# What each identity's test needs among the operands (``Rewrite.reads``): a constant (the
# unit of ``_unit``, the zero of ``_zero_operand``, a switch's condition) or an operand
# computed by the scalar op named; the driver does not try it on other nodes.
_NEEDS_CONSTANT = ("mul_by_one", "add_zero", "sub_zero", "div_by_one", "pow_one", "pow_zero")
_NEEDS_CONSTANT += ("mul_by_minus_one", "switch_const", "mul_by_zero")
READS = dict.fromkeys(_NEEDS_CONSTANT, (Constant,))
READS.update(neg_neg=(S["neg"],), sub_neg=(S["neg"],), add_neg=(S["neg"],), mul_neg=(S["neg"],))
READS.update(neg_sub=(S["sub"],), log_exp=(S["exp"],))


def _neg_of_difference(node, fgraph):
    """(a, b) if node is -(a - b) and the sign of a zero result does not matter (see DOMAIN)."""
    d = node.inputs[0]
    if not is_op(d, "sub"):
        return None
    out = node.outputs[0]
    if out.dtype.startswith(("float", "complex")) and not zero_sign_ignored(fgraph, out):
        return None
    return tuple(d.owner.inputs)


def _taken_branch(node):
    """(branch,) if the condition of ``switch`` is a constant, the same everywhere, and the
    branch it picks alone has the result's shape (a derivative rule's guard that folded)."""
    c = scalar_const(node.inputs[0])
    if c is None:
        return None
    branch = node.inputs[1] if c else node.inputs[2]
    return (branch,) if _fits(branch, node.outputs[0]) else None


def _neg_operand(node):
    """(a, b) if node is a * (-b) or (-b) * a: the negation moves out of the product."""
    a, b = node.inputs
    if is_op(b, "neg"):
        return a, b.owner.inputs[0]
    if is_op(a, "neg"):
        return a.owner.inputs[0], b
    return None


def _zero_operand(node, safe):
    """(x, zero) for x * zero → zeros shaped like the output, when x is finite, never
    negative (so the product's zero has the constant's sign) and the zero does not widen it."""
    out = node.outputs[0]
    for k in (0, 1):
        c, x = node.inputs[k], node.inputs[1 - k]
        z = scalar_const(c)
        if z != 0 or not _fits(x, out):
            continue
        if not safe or not out.dtype.startswith(("float", "complex")):
            if not safe or known_finite(x):
                return (x, z)
        elif known_finite(x) and known_nonnegative(x):
            return (x, z)
    return None


def _make(name, sname, test, build, tags, phases="simplify"):
    def rewrite(fgraph, node):
        ops = test(node, fgraph)
        if ops is None:
            return None
        new = build(node.outputs[0], *ops)
        return [new]

    base = name[len("unsafe_"):] if name.startswith("unsafe_") else name
    rewrite.__name__ = name
    rewrite.__doc__ = f"Identity {name} on {sname}. Exact for: {DOMAIN[base]}."
    reads = READS.get(base, ())
    node_rewriter(phases, tags=tags, tracks=(S[sname],), name=name, reads=reads)(rewrite)


for _name, _sname, _test, _build in IDENTITIES:
    _make(_name, _sname, _test, _build, ("fast_run", "stability") if _name in STABILITY else ("fast_run",),
          ("simplify", "specialize"))
for _name, _sname, _test, _build in GUARDED:
    _make(_name, _sname, (lambda t: lambda n, fg: t(n, True))(_test), _build, ("fast_run",))
    _make("unsafe_" + _name, _sname, (lambda t: lambda n, fg: t(n, False))(_test), _build,
          ("unsafe", "fast_math"))


@node_rewriter(("simplify", "specialize"), tracks=(Elemwise,), reads=(Alloc,))
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
    """x**a * x**b → x**(a+b) for constants a, b ≥ 0 (x itself is x**1, sqr(x) is x**2).

    Exact (to rounding, with the same inf, nan and sign of zero) when a and b are both
    integers, for every x; or for any a, b when x is known never to be negative nor -0.0
    (exp(...), x**2, abs(...), ...). Otherwise it is not: for x = -3, x**0.5 * x**0.5 is
    nan and x**1 is -3; x**1.5 * x**1.5 is nan and x**3 is -27.
    """
    a, b = node.inputs
    pa, pb = _power(a), _power(b)
    if pa is None or pb is None or pa[0] is not pb[0]:
        return None
    if pa[1] == 1 and pb[1] == 1 and a is b:
        base, e = a, 2
    else:
        base, e = pa[0], pa[1] + pb[1]
    whole = float(pa[1]).is_integer() and float(pb[1]).is_integer()
    if not whole and not known_nonnegative(base):
        return None
    out = node.outputs[0]
    if not _fits(base, out):
        return None
    return [_cast_like(tm.pow(base, constant(np.asarray(e, dtype=out.dtype))), out)]


@node_rewriter("simplify", tracks=(Sum,))
def sum_alloc(fgraph, node):
    """sum(Alloc(v, *shape)) over all axes → v · (product of the summed sizes) for scalar v.

    Exact (to rounding) for every v when every size is a constant > 0; where a size may be
    0, only for v finite and never negative (the sum of nothing is +0.0).
    """
    a = node.inputs[0]
    if a.owner is None or not isinstance(a.owner.op, Alloc) or node.outputs[0].ndim != 0:
        return None
    v, *shape = a.owner.inputs
    if v.ndim != 0 or not shape or not only_client(fgraph, a, node):
        return None
    # v·n equals the sum for every v (inf and nan included) unless n can be 0: the sum of
    # nothing is +0.0, and v·0 is nan for an infinite v and -0.0 for a negative one
    sizes = [scalar_const(s) for s in shape]
    if not all(n is not None and n > 0 for n in sizes) and not (
            known_finite(v) and (known_nonnegative(v) or not v.dtype.startswith(("float", "complex")))):
        return None
    count = shape[0]
    for s in shape[1:]:
        count = count * s
    out = node.outputs[0]
    return [_cast_like(tm.mul(tm.cast(v, out.dtype), tm.cast(count, out.dtype)), out)]


# ----------------------------------------------------------- a factor against its reciprocal
#
# (1/a) · a = 1 wherever a ≠ 0. The rewrite below uses it only for forms a that are nonzero
# for every finite x: sigmoid(x) ∈ (0, 1), 1 - sigmoid(x) ∈ (0, 1), exp(x) > 0. In floating
# point such a form can still come out as 0 or inf: sigmoid(x) and exp(x) underflow to 0 for
# x below about -745, 1 - sigmoid(x) rounds to 0 for x above about 37, exp(x) overflows for x
# above about 709. The original product is then inf · 0 = nan (or inf), the rewritten one is
# the value the product has in exact arithmetic (for x = ±inf, its limit): more accurate than
# the original, so the rewrite is tagged ``stability`` and not ``unsafe``. A nan in x must
# still give nan: the rewrite fires only where x is provably finite or another factor of the
# rewritten product still carries x (x itself or one of the forms above, each nan for x = nan).


def _nonzero_arg(a):
    """x if ``a`` is sigmoid(x), 1 - sigmoid(x) or exp(x) (nonzero for every finite x), else None."""
    if is_op(a, "sigmoid") or is_op(a, "exp"):
        return a.owner.inputs[0]
    if is_op(a, "sub"):
        one, s = a.owner.inputs
        # the sigmoid first: most differences in a product are not 1 - sigmoid(x)
        if is_op(s, "sigmoid") and scalar_const(one) == 1 and all(n == 1 for n in one.type.shape):
            return s.owner.inputs[0]
    return None


def _over(v):
    """(n, a) if ``v`` is n / a, (None, a) if it is 1 / a or reciprocal(a), else None."""
    if v is None:
        return None
    if is_op(v, "reciprocal"):
        return None, v.owner.inputs[0]
    if is_op(v, "true_div"):
        n, a = v.owner.inputs
        if scalar_const(n) == 1 and all(s == 1 for s in n.type.shape):
            return None, a
        return _cast_like(n, v), a
    return None


def _numerator_form(v):
    """a if ``v`` is a / d or -a / d for a nonzero form a (see ``_nonzero_arg``), else None."""
    if not is_op(v, "true_div"):
        return None
    a = v.owner.inputs[0]
    if is_op(a, "neg"):
        a = a.owner.inputs[0]
    return a if _nonzero_arg(a) is not None and a.dtype == v.dtype else None


def _over_rest(v):
    """What is left of ±a / d once a is cancelled: 1 / d or -(1 / d)."""
    a, d = v.owner.inputs
    rest = tm.true_div(_cast_like(constant(1.0), v), d)
    return tm.neg(rest) if is_op(a, "neg") else rest


def _partner(factors, i, a, where, quotients):
    """(j, what is left of factor j) for the factor that cancels ``1 / a`` at ``i``: a itself
    (nothing left), else a quotient ±a / d (±1 / d left); None if there is none."""
    for j in where.get(a, ()):
        if j != i and factors[j] is a:
            return j, None
    for j in quotients.get(a, ()):
        if j != i and factors[j] is not None and _numerator_form(factors[j]) is a:
            return j, _over_rest(factors[j])
    return None


def _shape_key(v):
    return (v.ndim,) + tuple(dim_key(v, d) for d in range(v.ndim))


def _reciprocal_of_form(v):
    """True if ``v`` is n / a or 1 / a for a nonzero form ``a`` (what ``_cancel`` cancels)."""
    if not (is_op(v, "true_div") or is_op(v, "reciprocal")):
        return False
    over = _over(v)
    return over is not None and _nonzero_arg(over[1]) is not None


def _cancel(factors):
    """``factors`` with each pair (n / a, a) for a nonzero form ``a`` replaced by (n, nothing).

    Returns the new list (None where a factor is gone), the cancelled forms ``a``, and
    whether the product keeps its shape: each factor taken out has the shape of one that stays.
    Linear in the number of factors: positions are looked up by variable.
    """
    out, gone, taken = list(factors), [], []
    if not any(_reciprocal_of_form(f) for f in out):
        return out, gone, True  # nothing to cancel (the common case: read before the rest)
    where, quotients = {}, {}
    for j, f in enumerate(out):
        if _nonzero_arg(f) is not None:
            where.setdefault(f, []).append(j)
        elif _numerator_form(f) is not None:
            quotients.setdefault(_numerator_form(f), []).append(j)
    for i in range(len(out)):
        over = _over(out[i])
        if over is None or _nonzero_arg(over[1]) is None:
            continue
        a = over[1]
        partner = _partner(out, i, a, where, quotients)
        if partner is None:
            continue
        j, left = partner
        # n / a has the shape of n and a together, 1 / a that of a (if no more axes)
        taken += [a] if over[0] is not None or out[i].ndim == a.ndim else [out[i], a]
        out[i], out[j] = over[0], left
        if over[0] is not None and _nonzero_arg(over[0]) is not None:
            where.setdefault(over[0], []).append(i)
            where[over[0]].sort()
        gone.append(a)
    if not gone:
        return out, gone, True
    left = [f for f in out if f is not None] or gone[:1]  # nothing left: ones shaped like a
    shapes = {_shape_key(f) for f in left}
    keeps_shape = all(_shape_key(t) in shapes for t in taken)
    return out, gone, keeps_shape


def _bare(x):
    """x without its negations: -x is nan exactly where x is."""
    while is_op(x, "neg"):
        x = x.owner.inputs[0]
    return x


def _carried(factors):
    """The variables whose nan reaches the product of ``factors``: each factor, and the
    argument x of each nonzero form among them (and x for an argument -x), and of each
    float function of one float argument (tanh(x), log(x), ...: nan in, nan out)."""
    res = set()
    for f in factors:
        if f is not None:
            res.add(f)
            x = _nonzero_arg(f)
            if x is None and f.owner is not None and isinstance(f.owner.op, Elemwise) \
                    and len(f.owner.inputs) == 1 and f.dtype.startswith("float") \
                    and f.owner.inputs[0].dtype.startswith("float"):
                x = f.owner.inputs[0]
            if x is not None:
                res.add(x)
                res.add(_bare(x))
    return res


def _carries(x, carried):
    """A nan in ``x`` still reaches the product (``carried``: see ``_carried``)."""
    return known_finite(x) or x in carried or _bare(x) in carried


def _product(factors, like, out):
    """The product of the factors left (None: gone); ones shaped like ``like`` if none is."""
    left = [f for f in factors if f is not None]
    if not left:
        return _fill(1, out, like)
    new = left[0]
    for f in left[1:]:
        new = tm.mul(new, f)
    return new


def _used_once(fgraph, v):
    return len(fgraph.clients.get(v, ())) == 1


def _sum_inner(fgraph, dtype):
    def inner(v):
        return (v.dtype == dtype and _used_once(fgraph, v)
                and (is_op(v, "add") or is_op(v, "sub") or is_op(v, "neg")))

    return inner


def _sum_terms(fgraph, v, dtype):
    """The terms of the add/sub/neg tree under ``v`` (through nodes used only inside it)."""
    return tree_leaves(v, _sum_inner(fgraph, dtype))


def _rebuild_sum(fgraph, v, dtype, new_terms):
    """The add/sub/neg tree under ``v`` with its terms replaced, in ``_sum_terms`` order."""
    def combine(u, args):
        return tm.neg(args[0]) if is_op(u, "neg") else u.owner.op(*args)

    return tree_rebuild(v, _sum_inner(fgraph, dtype), new_terms, combine)


# how many factors cancel_reciprocal reads through products shared with other terms: a
# bound keeps each call O(1) (shared nodes are read again by every product that uses them)
_SHARED_LEAVES = 16


def _shared_leaves(out, dtype):
    """The factors of the product tree under ``out`` through every mul of ``dtype``, shared
    or not; None beyond ``_SHARED_LEAVES`` of them."""
    res, stack = [], [out]
    while stack:
        u = stack.pop()
        if u.dtype == dtype and is_op(u, "mul"):
            if len(res) + len(stack) + len(u.owner.inputs) > _SHARED_LEAVES:
                return None
            stack.extend(reversed(u.owner.inputs))
        else:
            res.append(u)
    return res


def _carried_beside(fgraph, out):
    """What carries a nan into the sum that ``out`` is the one term of, beside ``out``:
    the other operand of its one client when that is an add or a sub (see ``_carried``)."""
    cl = fgraph.clients.get(out, ())
    if len(cl) != 1 or cl[0][0] == "output" or not (is_op(cl[0][0].outputs[0], "add")
                                                    or is_op(cl[0][0].outputs[0], "sub")):
        return set()
    return _carried([_bare(v) for v in cl[0][0].inputs if v is not out])


def _cancel_in_chain(leaves, out, fgraph=None):
    """(n / a) · a · rest → n · rest inside one product.

    ``fgraph``: also count the variables whose nan reaches the result through a sum this
    product is a term of (``_carried_beside``).
    """
    factors, gone, keeps_shape = _cancel(leaves)
    if not gone or not keeps_shape:
        return None
    carried = _carried(factors)
    if fgraph is not None:
        carried |= _carried_beside(fgraph, out)
    # an argument whose nan nothing left carries keeps it through unit(x): 1, or nan
    units = []
    for a in gone:
        x = _nonzero_arg(a)
        if not _carries(x, carried) and all(u is not x for u in units):
            units.append(x)
    return _product([f for f in factors if f is not None] + [unit_of(x) for x in units], gone[0], out)


#: The factors without which cancel_reciprocal leaves a product alone: a reciprocal
#: (``_cancel``), a sum (``_cancel_through_sum``), a product (``_shared_leaves``).
_MAY_CANCEL = (ps.TrueDiv, ps.Reciprocal, ps.Add, ps.Sub, ps.Mul)


def _may_cancel(f):
    node = f.owner
    return node is not None and isinstance(node.op, Elemwise) and isinstance(node.op.scalar_op, _MAY_CANCEL)


def _cancel_through_sum(fgraph, leaves, out):
    """(t₁ + t₂ + ...) · a₁ · a₂ · rest → (t₁ · a₁ · a₂ + ...) · rest with each tᵢ · aⱼ cancelled.

    Fires when every term holds the reciprocal of at least one distributed aⱼ and the
    multiplications the distribution adds are no more than the reciprocals and
    multiplications it removes: the graph does not grow.
    """
    if not any(is_op(s, "add") or is_op(s, "sub") for s in leaves):
        return None  # no sum to distribute over
    forms = {}
    for j, a in enumerate(leaves):
        if _nonzero_arg(a) is not None:
            forms.setdefault(a, []).append(j)
    if not forms:
        return None
    for k, s in enumerate(leaves):
        if not (is_op(s, "add") or is_op(s, "sub")) or not _used_once(fgraph, s):
            continue
        terms = _sum_terms(fgraph, s, out.dtype)
        parts = [chain_leaves(fgraph, t, t, "mul", out.dtype) if _used_once(fgraph, t) else [t]
                 for t in terms]
        dist = set()
        for fs in parts:
            for o in map(_over, fs):
                if o is not None:
                    dist.update(j for j in forms.get(o[1], ()) if j != k)
        if not dist:
            continue
        dist = sorted(dist)
        rest = [a for j, a in enumerate(leaves) if j != k and j not in dist]
        new_terms, added, removed = [], 0, len(dist)
        for fs in parts:
            factors, gone, keeps_shape = _cancel(fs + [leaves[j] for j in dist] + rest)
            factors = factors[:len(fs) + len(dist)]
            hits = sum(f is None for f in factors[len(fs):])
            if hits == 0 or not keeps_shape:
                break
            carried = _carried(factors + rest)
            if not all(_carries(_nonzero_arg(a), carried) for a in gone):
                break
            added += len(dist) - hits
            removed += 2 * len(gone)
            new_terms.append(_product(factors, gone[0], out))
        else:
            if added > removed:
                continue
            return _product(rest + [_rebuild_sum(fgraph, s, out.dtype, new_terms)], s, out)
    return None


@node_rewriter(("simplify", "specialize"), tags=("fast_run", "stability"), tracks=(S["mul"],),
               chain=True, reads=_MAY_CANCEL)
def cancel_reciprocal(fgraph, node):
    """(1/a) · a → 1 inside a product, for a = sigmoid(x), 1 - sigmoid(x) or exp(x)
    (``unit(x)``, 1 or nan, where nothing else left in the product carries a nan of x).

    Also n / a · a → n, and through a sum whose every term holds a reciprocal:
    (u / (1 - s) + v / s) · s · (1 - s) → u · s + v · (1 - s) for s = sigmoid(x), the
    gradient of the logistic loss. Exact for finite x; where a rounds to 0 or inf the
    original is nan or inf and the result is the exact value (see the comment above).
    """
    out = node.outputs[0]
    if not out.dtype.startswith("float"):
        return None
    leaves = chain_leaves(fgraph, out, out, "mul", out.dtype)
    if not any(_may_cancel(f) for f in leaves):
        return None  # no reciprocal to cancel, no sum to distribute over, no shared product
    new = _cancel_in_chain(leaves, out, fgraph)
    if new is None:
        new = _cancel_through_sum(fgraph, leaves, out)
    if new is None:
        # a product shared with other terms (the chain rule's ``ones · (1/u)``, used by
        # each term of d(log u)) is read through as well: the cancellation removes more
        # operations than repeating the shared factors adds
        # (the same factors unless a factor is itself a product)
        shared = _shared_leaves(out, out.dtype) if any(is_op(f, "mul") for f in leaves) else None
        if shared is not None and len(shared) > len(leaves):
            new = _cancel_in_chain(shared, out, fgraph)
    if new is None or new.ndim != out.ndim or new.type.shape != out.type.shape and not same_shape(new, out):
        return None
    return [_cast_like(new, out)]


def _without(fgraph, t, a, out):
    """The term ``t`` with one factor ``a`` taken out (ones if nothing is left), or None."""
    fs = chain_leaves(fgraph, t, t, "mul", out.dtype) if _used_once(fgraph, t) else [t]
    for j, f in enumerate(fs):
        if f is a:
            left = fs[:j] + fs[j + 1:]
            if left and {_shape_key(f) for f in left} != {_shape_key(t)}:
                return None
            return _product(left, a, out) if left else _fill(1, out, a)
    return None


def _divide_through_sum(fgraph, leaves, a, out):
    """(t₁ + t₂ + ...) · rest / a → (t₁/a + t₂/a + ...) · rest, where every tᵢ has the factor a."""
    for k, s in enumerate(leaves):
        if not (is_op(s, "add") or is_op(s, "sub")) or not _used_once(fgraph, s):
            continue
        if _shape_key(s) != _shape_key(a):
            continue
        terms = _sum_terms(fgraph, s, out.dtype)
        new_terms = [_without(fgraph, t, a, out) for t in terms]
        if any(t is None for t in new_terms):
            continue
        rest = leaves[:k] + leaves[k + 1:]
        if not _carries(_nonzero_arg(a), _carried(rest + new_terms)):
            continue
        return _product(rest + [_rebuild_sum(fgraph, s, out.dtype, new_terms)], s, out)
    return None


@node_rewriter(("simplify", "specialize"), tags=("fast_run", "stability"), tracks=(S["true_div"],))
def cancel_division(fgraph, node):
    """(a · rest) / a → rest, for a = sigmoid(x), 1 - sigmoid(x) or exp(x); also -(a · rest) / a.

    The gradient of ``log(exp(x) / (1 + exp(x)))`` comes to ``sigmoid(x) · sigmoid(-x) /
    sigmoid(x)`` once its sigmoids are recognized; where sigmoid(x) underflows to 0
    (x < -745 in float64) that is 0/0 = nan, and the exact value is sigmoid(-x). Fires
    under the rule of ``cancel_reciprocal``: a nan in x still reaches the result, and the
    factors left keep the quotient's shape.
    """
    out = node.outputs[0]
    n, a = node.inputs
    if not out.dtype.startswith("float") or n.dtype != out.dtype or _nonzero_arg(a) is None:
        return None
    negated = is_op(n, "neg") and _used_once(fgraph, n)
    if negated:
        n = n.owner.inputs[0]
    leaves = chain_leaves(fgraph, n, n, "mul", out.dtype)
    hits = [j for j, f in enumerate(leaves) if f is a]
    if hits:
        rest = [f for j, f in enumerate(leaves) if j != hits[0]]
        if not _carries(_nonzero_arg(a), _carried(rest)):
            return None
        new = _product(rest, a, out)
    else:
        new = _divide_through_sum(fgraph, leaves, a, out)
    if new is None:
        return None
    if negated:
        new = tm.neg(new)
    if new.ndim != out.ndim or new.type.shape != out.type.shape and not same_shape(new, out):
        return None
    return [_cast_like(new, out)]


__all__ = ["IDENTITIES", "GUARDED", "elemwise_alloc", "mul_powers", "sum_alloc", "cancel_reciprocal", "cancel_division", "sop"]
