"""Contractions: a sum over axes of a product of broadcast factors becomes a matrix product.

A batched Jacobian or Hessian (``nbgrad.vectorize``) builds elementwise products of
broadcast operands, ``E[k, n, j] = d[k, n] · w[j] · g[n, j] + ...``, and then contracts
them: ``sum(E, axis=1)`` or ``X.T @ E``. Done as written, every term is a temporary of
the full broadcast shape. ``contract_products`` writes such an ``E`` as a sum of
products of factors, each a ``DimShuffle`` of a smaller array, and contracts each term
whose factors allow it without the full temporary:

- factors that do not depend on a summed axis are pulled out of the sum
  (Σₙ f[k, j]·g[n, j] = f[k, j]·Σₙ g[n, j]);
- the others are split into two groups, each multiplied over its own axes only, and the
  groups are contracted with one ``dot`` (Σₙ d[k, n]·g[n, j] = (d·g)[k, j]).

Terms that need the full shape anyway (a factor with every axis) stay one elementwise
product, computed once for all the contractions that read it. ``E`` is rewritten only
when every use of it is such a contraction (``sum`` over axes, or a matrix product with
a matrix), so that it is no longer computed. Results agree to rounding: the sums are
taken in another order.
"""

import math

import numpy as np

from nbgrad.rewriting.db import graph_rewriter
from nbgrad.rewriting.driver import replace_node
from nbgrad.rewriting.patterns import is_op, scalar_const
from nbgrad.tensor import math as tm
from nbgrad.tensor.basic import constant
from nbgrad.tensor.elemwise import DimShuffle
from nbgrad.tensor.math import Dot, Matmul, Sum
from nbgrad.tensor.shape import reshape

__all__ = ["contract_products"]

#: the length assumed for an axis of unknown length when the costs are compared: a guess,
#: on the large side, as leaving a large product whole costs more than a few extra nodes
_UNKNOWN_SIZE = 64
#: a product of sums is expanded only while it has at most this many terms
_MAX_TERMS = 8
#: a term of more factors is left whole (its splits are tried one by one)
_MAX_FACTORS = 8
#: a matrix product's multiply-add costs this fraction of an elementwise operation on
#: one element (BLAS against a pass over memory)
_DOT_WEIGHT = 0.05
#: each node of the compiled function costs as much as this many elements (the call of
#: its thunk): on small arrays more nodes cost more than the elements they save
_NODE_COST = 4000


class _Factor:
    """``base`` read along the axes of a term: ``order[d]`` is the axis of ``base`` that
    axis ``d`` of the term reads, or ``'x'`` where the factor is broadcast."""

    __slots__ = ("base", "order", "axes")

    def __init__(self, base, order):
        self.base = base
        self.order = tuple(order)
        # the axes along which the factor varies (a base axis of static size 1 broadcasts)
        self.axes = frozenset(d for d, b in enumerate(self.order) if b != "x" and base.type.shape[b] != 1)

    def widened(self, position):
        """The same factor with a broadcast axis inserted at ``position``."""
        return _Factor(self.base, self.order[:position] + ("x",) + self.order[position:])

    def on(self, axes):
        """The factor as an array over ``axes`` (sorted term axes), broadcast where it does not vary."""
        order = tuple(self.order[d] for d in axes)
        if order == tuple(range(self.base.ndim)):
            return self.base
        return DimShuffle(self.base.ndim, order)(self.base)


def _composed(order, new_order):
    """The order that reads, through a ``DimShuffle(new_order)``, what ``order`` reads of its output."""
    return tuple("x" if b == "x" else new_order[b] for b in order)


def _single_client(fgraph, var):
    clients = fgraph.clients.get(var, ())
    return len(clients) == 1 and clients[0][0] != "output"


def _expand(fgraph, v, order, private, ops, dtype):
    """``v`` (read along ``order``) as a list of terms ``(coefficient, [factors])``.

    Sums, differences, negations and products are expanded through nodes used only
    here (``private``: the root, then nodes whose one client is an expanded node);
    ``DimShuffle`` is always seen through; anything else is one factor. ``ops``
    collects the size of each expanded operation's result. None when the expansion
    grows too large.
    """
    c = scalar_const(v)
    if c is not None and all(s == 1 for s in v.type.shape):
        return [(float(c), [])]
    node = v.owner
    if node is not None and isinstance(node.op, DimShuffle):
        inner = node.inputs[0]
        private = private and _single_client(fgraph, inner)
        return _expand(fgraph, inner, _composed(order, node.op.new_order), private, ops, dtype)
    if not private or node is None or v.dtype != dtype:
        return [(1.0, [_Factor(v, order)])]
    kind = next((k for k in ("add", "sub", "neg", "mul") if is_op(v, k)), None)
    if kind is None:
        return [(1.0, [_Factor(v, order)])]
    parts = []
    for x in node.inputs:
        part = _expand(fgraph, x, order, _single_client(fgraph, x), ops, dtype)
        if part is None:
            return None
        parts.append(part)
    ops.append(max(len(node.inputs) - 1, 1) * _static_size(v))
    if kind == "mul":
        terms = [(1.0, [])]
        for part in parts:
            terms = [(k1 * k2, f1 + f2) for k1, f1 in terms for k2, f2 in part]
            if len(terms) > _MAX_TERMS:
                return None
        return terms
    signs = {"add": (1.0,) * len(parts), "sub": (1.0, -1.0), "neg": (-1.0,)}[kind]
    terms = [(s * k, f) for s, part in zip(signs, parts) for k, f in part]
    return terms if len(terms) <= _MAX_TERMS else None


class _Contraction:
    """One use of ``E``: the sum over ``summed`` of ``E``'s terms times ``extra`` factors,
    over term axes of ``sizes``, giving an array over the remaining axes in order.

    ``widen(f)`` maps a factor of ``E`` onto the term axes (a matrix product adds one).
    """

    def __init__(self, node, sizes, summed, extra, widen, apply_to):
        self.node = node
        self.sizes = sizes
        self.summed = frozenset(summed)
        self.kept = tuple(d for d in range(len(sizes)) if d not in self.summed)
        self.extra = extra
        self.widen = widen
        self.apply_to = apply_to  # the same use, of another array in place of E


def _static_size(v):
    return math.prod(_UNKNOWN_SIZE if s is None else s for s in v.type.shape)


def _product_cost(factors, sizes):
    """The elements that ``_product`` computes: each partial product over its own axes."""
    cost, axes = 0, frozenset()
    for k, f in enumerate(sorted(factors, key=lambda f: len(f.axes))):
        axes |= f.axes
        cost += _size(sizes, axes) if k else 0
    return cost


def _size(sizes, axes):
    return math.prod(sizes[d] for d in axes)


def _uses(fgraph, e):
    """Each use of ``e`` as a ``_Contraction``; None if some use is not a contraction."""
    uses = []
    sizes_e = tuple(_UNKNOWN_SIZE if s is None else s for s in e.type.shape)
    for client, j in fgraph.clients.get(e, ()):
        if client == "output":
            return None
        op = client.op
        if type(op) is Sum and client.outputs[0].dtype == e.dtype:
            axis = tuple(op.axis)
            uses.append(
                _Contraction(
                    client, sizes_e, axis, [], lambda f: f, lambda x, axis=axis: tm.sum(x, axis=axis)
                )
            )
            continue
        if not isinstance(op, (Dot, Matmul)) or e.ndim < 2 or client.outputs[0].dtype != e.dtype:
            return None
        other = client.inputs[1 - j]
        if other.ndim != 2 or client.inputs[0] is client.inputs[1]:
            return None
        nd = e.ndim
        size_o = _UNKNOWN_SIZE if other.type.shape[1 - j] is None else other.type.shape[1 - j]
        if j == 1:  # other @ E: out[..., i, m] = Σₙ other[i, n]·E[..., n, m]
            sizes = sizes_e[: nd - 2] + (size_o,) + sizes_e[nd - 2 :]
            extra = _Factor(other, ("x",) * (nd - 2) + (0, 1, "x"))
            widen = lambda f, p=nd - 2: f.widened(p)
            summed = (nd - 1,)
            apply_to = lambda x, o=other: tm.matmul(o, x)
        else:  # E @ other: out[..., m, i] = Σₙ E[..., m, n]·other[n, i]
            sizes = sizes_e + (size_o,)
            extra = _Factor(other, ("x",) * (nd - 1) + (0, 1))
            widen = lambda f, p=nd: f.widened(p)
            summed = (nd - 1,)
            apply_to = lambda x, o=other: tm.matmul(x, o)
        uses.append(_Contraction(client, sizes, summed, [extra], widen, apply_to))
    return uses or None


def _group_axes(factors):
    return frozenset().union(*(f.axes for f in factors))


def _plan(factors, use):
    """The cheapest way to contract one term for ``use``: (cost, outer factors, groups), or None.

    ``groups`` is one factor list (summed on its own) or two (contracted with a dot).
    None when every way needs the term's full temporary (or the term does not vary
    along a summed axis, so that its sum would need that axis' length).
    """
    summed = use.summed
    outer = [f for f in factors if not (f.axes & summed)]
    inner = [f for f in factors if f.axes & summed]
    if not inner or not summed <= _group_axes(inner) or len(inner) > _MAX_FACTORS:
        return None
    full = _size(use.sizes, _group_axes(factors))
    kept = _size(use.sizes, _group_axes(factors) - summed)
    best = None
    if len(inner) == 1:
        cost = _size(use.sizes, inner[0].axes) + kept + _NODE_COST * 2
        best = (cost, outer, [inner])
    for mask in range(1, 2 ** (len(inner) - 1)):
        p = [f for k, f in enumerate(inner) if mask >> k & 1]
        q = [f for k, f in enumerate(inner) if not mask >> k & 1]
        ap, aq = _group_axes(p), _group_axes(q)
        shared = ap & aq
        if not shared or not shared <= summed:
            continue  # nothing to contract, or an axis both groups keep (a batch axis)
        nodes = 2 + (len(p) > 1) + (len(q) > 1)  # the dot, the products, the result's combination
        cost = (
            _product_cost(p, use.sizes)
            + _product_cost(q, use.sizes)
            + _DOT_WEIGHT * _size(use.sizes, ap | aq)
            + kept
            + _NODE_COST * nodes
        )
        if best is None or cost < best[0]:
            best = (cost, outer, [p, q])
    if best is None or best[0] >= full:
        return None
    return best


def _product(factors, axes, coef=1.0):
    """``coef`` times the product of ``factors`` as an array over ``axes`` (sorted).

    The smallest factors are multiplied first, and ``coef`` with the smallest, so that
    the operations on the largest arrays are as few as can be.
    """
    out = None
    for f in sorted(factors, key=lambda f: len(f.axes)):
        x = f.on(axes)
        if out is None and coef != 1.0:
            x = x * constant(np.full((1,) * x.ndim, coef, dtype=x.dtype)) if len(factors) > 1 else x
        out = x if out is None else out * x
    if len(factors) == 1 and coef != 1.0:
        out = -out if coef == -1.0 else out * constant(np.full((1,) * out.ndim, coef, dtype=out.dtype))
    return out


def _sum_over(x, axes, summed):
    """``x`` (an array over ``axes``) summed over the axes in ``summed``: (array, its axes)."""
    drop = tuple(k for k, d in enumerate(axes) if d in summed)
    if not drop:
        return x, axes
    return tm.sum(x, axis=drop), tuple(d for d in axes if d not in summed)


def _dot_axes(p, ap, q, aq, shared):
    """Σ over ``shared`` of p·q, for p over ``ap`` and q over ``aq``: (array, its axes)."""
    fp = tuple(d for d in ap if d not in shared)
    fq = tuple(d for d in aq if d not in shared)
    if fp and fq and fq[0] < fp[0]:
        # q's free axes come first in the result: q·p gives them in that order, where p·q
        # would leave a transposed result (which the kernels that read it go through slowly)
        return _dot_axes(q, aq, p, ap, shared)
    c = tuple(sorted(shared))
    pt = _transposed(p, ap, fp + c)
    qt = _transposed(q, aq, c + fq)
    if len(fp) <= 1 and len(fq) <= 1 and len(c) == 1:
        return tm.dot(pt, qt), fp + fq
    static = [s for s in pt.type.shape + qt.type.shape]
    if any(s is None for s in static):
        return tm.tensordot(pt, qt, [list(range(len(fp), len(fp) + len(c))), list(range(len(c)))]), fp + fq
    shape_p, shape_q = pt.type.shape, qt.type.shape
    k = math.prod(shape_p[len(fp) :])
    p2 = reshape(pt, (math.prod(shape_p[: len(fp)]), k))
    q2 = reshape(qt, (k, math.prod(shape_q[len(c) :])))
    out = tm.dot(p2, q2)
    return reshape(out, shape_p[: len(fp)] + shape_q[len(c) :]), fp + fq


def _transposed(x, axes, new_axes):
    if tuple(axes) == tuple(new_axes):
        return x
    return DimShuffle(x.ndim, tuple(axes.index(d) for d in new_axes))(x)


def _contract_term(coef, plan, use):
    """One term's contribution to ``use``, an array over ``use.kept`` (broadcast where it is constant)."""
    _, outer, groups = plan
    parts = []
    for g in groups:
        axes = tuple(sorted(_group_axes(g)))
        x, axes = _sum_over(_product(g, axes), axes, use.summed - _others(groups, g))
        parts.append((x, axes))
    if len(parts) == 1:
        x, axes = parts[0]
    else:
        (p, ap), (q, aq) = parts
        x, axes = _dot_axes(p, ap, q, aq, frozenset(ap) & frozenset(aq))
    order = tuple(axes.index(d) if d in axes else "x" for d in use.kept)
    if order != tuple(range(x.ndim)):
        x = DimShuffle(x.ndim, order)(x)
    for f in outer:
        x = x * f.on(use.kept)
    if coef != 1.0:
        x = x * constant(np.asarray(coef, dtype=x.dtype).reshape((1,) * x.ndim))
    return x


def _others(groups, g):
    """The axes of the groups other than ``g``."""
    return _group_axes([f for h in groups if h is not g for f in h])


def _elementwise(terms, e):
    """The sum of ``terms`` as one array of ``e``'s axes (the part of E that stays whole)."""
    axes = tuple(range(e.ndim))
    out = None
    for coef, factors in terms:
        if factors:
            x = _product(factors, axes, coef)
        else:
            x = constant(np.full((1,) * e.ndim, coef, dtype=e.dtype))
        out = x if out is None else out + x
    return out


def _fits(new, old):
    """Whether ``new`` can stand for ``old``: same dtype and ndim, and it varies where ``old`` does."""
    if new.dtype != old.dtype or new.ndim != old.ndim:
        return False
    return all(n != 1 or o == 1 for n, o in zip(new.type.shape, old.type.shape)) and old.type.is_compatible(
        new.type
    )


def _whole_cost(terms, sizes):
    """The elements that computing ``terms`` as one array (``_elementwise``) takes."""
    full = math.prod(sizes)
    return sum(_product_cost(f, sizes) + full * (abs(k) != 1.0) for k, f in terms) + full * (len(terms) - 1)


def _rewrite(fgraph, e):
    """Rewrite every use of ``e`` as contractions of its terms; True if done.

    Done only when it is cheaper, counting each elementwise operation over ``e``'s
    shape and each contraction's multiply-adds (``_DOT_WEIGHT`` each).
    """
    uses = _uses(fgraph, e)
    if uses is None:
        return False
    ops = []
    terms = _expand(fgraph, e, tuple(range(e.ndim)), True, ops, e.dtype)
    if terms is None or (len(terms) == 1 and len(terms[0][1]) < 2):
        return False
    if any(f.base.dtype != e.dtype for _, factors in terms for f in factors):
        return False  # a product of integers would be summed in integers
    whole, contracted = [], []
    for coef, factors in terms:
        plans = []
        for use in uses:
            plan = _plan([use.widen(f) for f in factors] + use.extra, use) if factors else None
            if plan is None:
                break
            plans.append(plan)
        if len(plans) == len(uses):
            contracted.append((coef, factors, plans))
        else:
            whole.append((coef, factors))
    dots = sum(_DOT_WEIGHT * _size(use.sizes, range(len(use.sizes))) + _NODE_COST for use in uses)
    before = sum(ops) + dots + _NODE_COST  # E's kernel and each use
    after = sum(plan[0] for _, _, plans in contracted for plan in plans)
    if whole:
        sizes_e = tuple(_UNKNOWN_SIZE if s is None else s for s in e.type.shape)
        after += _whole_cost(whole, sizes_e) + dots + _NODE_COST
    if not contracted or after >= before:
        return False
    rest = _elementwise(whole, e) if whole else None
    if rest is not None and any((r == 1) != (s == 1) for r, s in zip(rest.type.shape, e.type.shape)):
        return False  # the terms left whole do not span E: their sums would need E's lengths
    replacements = []
    for k, use in enumerate(uses):
        new = use.apply_to(rest) if rest is not None else None
        for coef, _, plans in contracted:
            x = _contract_term(coef, plans[k], use)
            new = x if new is None else new + x
        old = use.node.outputs[0]
        if not _fits(new, old):
            return False
        replacements.append((use.node, new))
    for node, new in replacements:
        replace_node(fgraph, node, [new], "contract_products")
    return True


@graph_rewriter("specialize", tags=("fast_run", "contraction"))
def contract_products(fgraph):
    """Contract the broadcast products that are only summed or multiplied by a matrix (see the module)."""
    n = 0
    for node in fgraph.toposort():
        if node not in fgraph.apply_nodes or len(node.outputs) != 1:
            continue
        e = node.outputs[0]
        if e.ndim < 2 or not e.dtype.startswith("float"):  # first: most nodes stop here
            continue
        if not (is_op(e, "mul") or is_op(e, "add") or is_op(e, "sub") or is_op(e, "neg")):
            continue
        if _rewrite(fgraph, e):
            n += 1
    return n
