"""Like terms collected: a sum of products read as a polynomial in its operands.

Gradients and Hessians built by the chain rule come out as sums of products that
repeat the same factors: the Hessian of Σ x²eˣ is ``2·x·eˣ + eˣ·(x² + 2·x) + 2·eˣ``.
Read as a polynomial over its *atoms* (the operands that are not sums, products or
small integer powers), it is ``eˣ·x² + 4·eˣ·x + 2·eˣ``, and with the factor every
term shares taken out ``eˣ·(x² + 4·x + 2)``: what a textbook prints, and fewer
operations to run.

Domain: for finite values the collected form equals the original up to rounding
(it rounds less). It is tagged *stability*: where the original is NaN only
through ``inf·0`` or ``inf − inf`` between terms that cancel or share a factor,
the collected form may give the limit value instead, and a result that is exactly
zero through cancellation may carry the other sign of zero. (Like every stability
rewrite, it is left out where the rewrite fuzz test compares bit for bit.)
"""

import numpy as np

from nbgrad.graph.basic import Constant
from nbgrad.rewriting.db import node_rewriter
from nbgrad.rewriting.patterns import S, is_op, known_finite, scalar_const, sop, zero_sign_ignored
from nbgrad.scalar import basic as ps
from nbgrad.tensor import math as tm
from nbgrad.tensor.basic import constant
from nbgrad.tensor.elemwise import DimShuffle, Elemwise
from nbgrad.tensor.math import Dot, Matmul
from nbgrad.tensor.shape import Alloc

_MAX_TERMS = 32  # beyond this the expansion is not worth it (and could blow up)
_MAX_LEAVES = 64
_MAX_POWER = 4
#: The scalar ops a polynomial is read through, by the name of the operation they are in it.
_KINDS = {ps.Add: "add", ps.Sub: "sub", ps.Neg: "neg", ps.Mul: "mul", ps.Sqr: "sqr"}


class _TooBig(Exception):
    pass


def _kind(var, dtype):
    """The polynomial operation computing ``var`` ('add', 'mul', 'pow2', ...), or None (an atom)."""
    node = var.owner
    s = sop(node)
    if s is None or var.dtype != dtype:
        return None
    kind = _KINDS.get(type(s))
    if kind is not None:
        return kind
    if isinstance(s, ps.Pow):
        e = node.inputs[1]
        c = scalar_const(e)
        if (isinstance(e, Constant) and all(d == 1 for d in e.type.shape) and c is not None
                and float(c).is_integer() and 2 <= c <= _MAX_POWER):
            return "pow"
    return None


def _coefficient(var):
    """The value of a constant that broadcasts on every axis, else None."""
    while var.owner is not None and isinstance(var.owner.op, DimShuffle):
        var = var.owner.inputs[0]  # a constant given more (broadcastable) axes
    if not isinstance(var, Constant):
        return None
    # a constant the same everywhere; one with a size ([1, 1, 1] against a static-shape x)
    # is read as its number, and the result's shape check below keeps what it broadcast to
    c = scalar_const(var)
    if c is None or not np.isfinite(c):
        return None
    return float(c)


def _mul(p, q):
    out = {}
    for m1, c1 in p.items():
        for m2, c2 in q.items():
            powers = dict(m1)
            for a, k in m2:
                powers[a] = powers.get(a, 0) + k
            m = tuple(sorted(powers.items()))
            out[m] = out.get(m, 0.0) + c1 * c2
            if len(out) > _MAX_TERMS:
                raise _TooBig
    return out


def _add(p, q, sign=1.0, seen=None):
    out = dict(p)
    for m, c in q.items():
        if m in out and seen is not None:
            seen.append(m)  # like terms met: there is something to collect
        out[m] = out.get(m, 0.0) + sign * c
    if len(out) > _MAX_TERMS:
        raise _TooBig
    return out


class _Reader:
    """Reads the tree under a root into a polynomial {monomial: coefficient}."""

    def __init__(self, fgraph, root):
        self.fgraph, self.root, self.dtype = fgraph, root, root.dtype
        self.atoms, self.index = [], {}
        self.inner = 0  # operations of the tree, to compare with the collected form
        self.met = []  # monomials that two terms of a sum share

    def inner_var(self, v):
        kind = _kind(v, self.dtype)
        if kind is None:
            return False
        if v is not self.root and kind != "neg":  # a negation is cheap to repeat
            users = {c for c, _ in self.fgraph.clients.get(v, ())}
            if not users or "output" in users or not all(self.inside(u) for u in users):
                return False  # used elsewhere: an atom, so that its other users keep it
        return True

    def inside(self, node):
        # a sum or product that reads it, as the nodes of this tree do (x + x, or
        # (0·x) + ((0·x) + x²): the reader memoizes, so a shared part is read once)
        return _kind(node.outputs[0], self.dtype) is not None

    def atom(self, v):
        node = v.owner
        if node is not None and isinstance(node.op, DimShuffle) and _kind(node.inputs[0], self.dtype) == "neg":
            # -(u) given broadcastable axes (a mean's -1/n): the sign is a coefficient
            inner = node.op(node.inputs[0].owner.inputs[0])
            return {m: -c for m, c in self.atom(inner).items()}
        if v not in self.index:
            self.index[v] = len(self.atoms)
            self.atoms.append(v)
            if len(self.atoms) > _MAX_LEAVES:
                raise _TooBig
        return {((self.index[v], 1),): 1.0}

    def read(self):
        # post-order over the tree with an explicit stack: trees of any depth
        done = {}
        stack = [(self.root, False)]
        while stack:
            v, ready = stack.pop()
            if v in done:
                continue
            if not ready:
                c = _coefficient(v)
                if c is not None:
                    done[v] = {(): c}
                    continue
                if not self.inner_var(v):
                    done[v] = self.atom(v)
                    continue
                stack.append((v, True))
                # left operands first, so that atoms are numbered in reading order
                stack.extend((i, False) for i in reversed(v.owner.inputs) if i not in done)
                continue
            kind = _kind(v, self.dtype)
            args = [done[i] for i in v.owner.inputs]
            self.inner += 1
            if kind == "add":
                p = args[0]
                for q in args[1:]:
                    p = _add(p, q, seen=self.met)
            elif kind == "sub":
                p = _add(args[0], args[1], -1.0, seen=self.met)
            elif kind == "neg":
                p = {m: -c for m, c in args[0].items()}
            elif kind == "mul":
                p = args[0]
                for q in args[1:]:
                    p = _mul(p, q)
            else:  # sqr, pow
                k = 2 if kind == "sqr" else int(scalar_const(v.owner.inputs[1]))
                p = args[0]
                for _ in range(k - 1):
                    p = _mul(p, args[0])
            done[v] = p
        return done[self.root]


def _ops_of(poly):
    """How many elementwise operations ``_build`` uses for ``poly`` (before factoring)."""
    n = max(len(poly) - 1, 0) + all(c < 0 for c in poly.values())
    for m, c in poly.items():
        factors = sum(1 for _ in m) + (abs(c) != 1)
        n += max(factors - 1, 0) + sum(1 for _, k in m if k > 1)
    return n


class _Builder:
    def __init__(self, atoms, dtype):
        self.atoms, self.dtype, self.ops = atoms, dtype, 0

    def const(self, c):
        return constant(np.asarray(c, dtype=self.dtype))

    def op(self, fn, *args):
        self.ops += 1
        return fn(*args)

    def monomial(self, m):
        factors = []
        for a, k in m:
            x = self.atoms[a]
            factors.append(x if k == 1 else self.op(tm.pow, x, self.const(k)))
        if not factors:
            return None
        out = factors[0]
        for f in factors[1:]:
            out = self.op(tm.mul, out, f)
        return out

    def term(self, m, c):
        """|c|·m, and whether it is subtracted."""
        body = self.monomial(m)
        mag = abs(c)
        if body is None:
            return self.const(mag), c < 0
        if mag != 1:
            body = self.op(tm.mul, self.const(mag), body)
        return body, c < 0

    def degree(self, m):
        # a scalar spread to a shape (alloc(1, n)) reads as a constant: it has no degree
        return sum(k for a, k in m if not _is_fill(self.atoms[a]))

    def sum(self, poly):
        # textbook order: higher degree first, a positive term before a negative one,
        # then the order the atoms came in
        items = sorted(poly.items(), key=lambda mc: (-self.degree(mc[0]), mc[1] < 0, mc[0]))
        out = None
        for m, c in items:
            t, negative = self.term(m, c)
            if out is None:
                out = self.op(tm.neg, t) if negative else t
            else:
                out = self.op(tm.sub if negative else tm.add, out, t)
        return out if out is not None else self.const(0)


def _is_fill(v):
    node = v.owner
    return (node is not None and isinstance(node.op, Alloc)
            and _coefficient(node.inputs[0]) is not None)


def _common_scale(poly):
    """The magnitude all coefficients share (2 in 2·a − 2·b), when there are several terms."""
    mags = {abs(c) for c in poly.values()}
    if len(poly) < 2 or len(mags) != 1:
        return 1
    return mags.pop()


def _reciprocal_of(v):
    """``a`` if ``v`` is 1 / a (possibly given broadcastable axes), else None."""
    node = v.owner
    if node is not None and isinstance(node.op, DimShuffle):
        a = _reciprocal_of(node.inputs[0])
        return None if a is None else node.op(a)
    s = sop(node)
    if isinstance(s, ps.TrueDiv) and _coefficient(node.inputs[0]) == 1:
        a = node.inputs[1]
        return a if a.type.shape == v.type.shape and a.dtype == v.dtype else None
    if isinstance(s, ps.Reciprocal):
        return node.inputs[0]
    return None


def _factor_out(poly):
    """The monomial every term shares, and the polynomial divided by it.

    Only atoms that then leave the sum altogether are taken out: eˣ from
    ``eˣ·x² + 4·eˣ·x``, but not x from ``4·x³ + 3·x² + 2·x`` (a polynomial in x
    reads best expanded).
    """
    common = None
    for m in poly:
        powers = dict(m)
        common = powers if common is None else {a: min(k, powers.get(a, 0)) for a, k in common.items()}
    common = {a: k for a, k in (common or {}).items()
              if k > 0 and all(dict(m)[a] == k for m in poly)}
    if not common or len(poly) < 2:
        return (), poly
    rest = {}
    for m, c in poly.items():
        powers = dict(m)
        for a, k in common.items():
            powers[a] -= k
        rest[tuple(sorted((a, k) for a, k in powers.items() if k))] = c
    return tuple(sorted(common.items())), rest


def _cancels_safely(fgraph, out, poly, atoms):
    """Whether the terms that cancel (coefficient 0) may be left out.

    A NaN or inf in a cancelled term would have made the original NaN; leaving the
    term out is safe when each of its atoms is provably finite or still appears in
    a remaining term (so that a NaN there still shows). A constant term that cancels
    to zero is left out only where the sign of a zero result does not matter
    (``x + 1 - 1`` is +0.0 for x = -0.0).
    """
    kept = {a for m, c in poly.items() if c != 0 for a, _ in m}
    for m, c in poly.items():
        if c != 0:
            continue
        if not m and not zero_sign_ignored(fgraph, out):
            return False
        if any(a not in kept and not known_finite(atoms[a]) for a, _ in m):
            return False
    return True


def _negation_of(u):
    """``x`` when ``u`` is ``-x``, else None."""
    return u.owner.inputs[0] if isinstance(sop(u.owner), ps.Neg) else None


def _complementary(a, b):
    """True when atoms ``a`` and ``b`` are ``σ(x)`` and ``σ(-x)`` (in either order): they sum to 1."""
    if not (is_op(a, "sigmoid") and is_op(b, "sigmoid")):
        return False
    x, y = a.owner.inputs[0], b.owner.inputs[0]
    return _negation_of(x) is y or _negation_of(y) is x


def _complements(poly, atoms):
    """``poly`` with each pair of terms ``c·m·σ(x) + c·m·σ(-x)`` replaced by ``c·m``, and whether any was.

    σ(x) + σ(−x) = 1: the chain rule through the logistic loss gives −y·σ(−z) − y·σ(z) + σ(z),
    which is σ(z) − y, the textbook gradient, computed without a second sigmoid. Only where
    another term still reads σ(±x), so that a NaN in ``x`` still reaches the result.
    """
    sigmoids = [k for k, a in enumerate(atoms) if is_op(a, "sigmoid")]
    pairs = [(i, j) for i in sigmoids for j in sigmoids if i < j and _complementary(atoms[i], atoms[j])]
    changed = False
    for i, j in pairs:
        for m in list(poly):
            powers = dict(m)
            if powers.get(i) != 1 or j in powers or m not in poly:
                continue
            c = poly[m]
            rest = {a: k for a, k in powers.items() if a != i}
            twin = tuple(sorted({**rest, j: 1}.items()))
            if poly.get(twin) != c:
                continue
            base = tuple(sorted(rest.items()))
            new = {k: v for k, v in poly.items() if k not in (m, twin)}
            new[base] = new.get(base, 0.0) + c
            if not any(v != 0 and any(a in (i, j) for a, _ in k) for k, v in new.items()):
                continue  # x would no longer be read: a NaN in it would be lost
            poly = new
            changed = True
    return poly, changed


def _is_root(fgraph, node):
    """True unless ``node``'s result is an inner part of a larger tree read from above."""
    out = node.outputs[0]
    uses = fgraph.clients.get(out, ())
    if len(uses) == 1:  # the common case, without building a set
        user = next(iter(uses))[0]
    else:
        users = {c for c, _ in uses}
        if len(users) != 1:
            return True
        user = users.pop()
    if user == "output":
        return True
    return _kind(user.outputs[0], out.dtype) is None


def _one_level(reader, node):
    """True when the tree under ``node`` is ``node`` alone and cannot collect anything.

    Its operands are then atoms or coefficients (an operand that is not ``reader.inner_var``
    is read as one of them), each a single monomial: a product of them is one term (nothing
    collects), and a sum of two different ones is two terms that neither meet, nor share a
    factor, nor form a pair σ(x) + σ(-x) that another term still reads. ``x + x`` and the sum
    of two coefficients (their monomials meet) are read in full.
    """
    inputs = node.inputs
    if any(reader.inner_var(i) for i in inputs):
        return False
    if _kind(node.outputs[0], reader.dtype) not in ("add", "sub"):
        return True
    if len(inputs) != 2 or inputs[0] is inputs[1]:
        return False
    return _coefficient(inputs[0]) is None or _coefficient(inputs[1]) is None


@node_rewriter(("simplify", "specialize"), tags=("fast_run", "stability"),
               tracks=tuple(S[n] for n in ("add", "sub", "mul")), roots_only=True)
def collect_like_terms(fgraph, node):
    """Σ of products → the collected polynomial, shared factors taken out (see the module).

    Fires only where like terms meet (or a mean's 1/n can read as a division) and the
    result takes no more operations: ``2·x·eˣ + eˣ·(x² + 2·x) + 2·eˣ`` → ``eˣ·(x² + 4·x + 2)``;
    ``x·y + x·z`` and ``-(u·s) + v·(1 - s)`` are left as they are.
    """
    out = node.outputs[0]
    if out.dtype not in ("float16", "float32", "float64") or not isinstance(node.op, Elemwise):
        return None
    if type(node.op.scalar_op) is ps.Mul and not any(_kind(i, out.dtype) for i in node.inputs):
        return None  # a product of atoms and coefficients: one term (see ``_one_level``)
    if not _is_root(fgraph, node):  # (the driver does not try an inner link of a chain)
        return None
    reader = _Reader(fgraph, out)
    if _one_level(reader, node):
        return None
    try:
        poly = reader.read()
    except _TooBig:
        return None
    if len(poly) < 2 and not reader.met:
        return None  # one term (x·c, the root of most products): nothing collects or factors out
    poly, complemented = _complements(poly, reader.atoms)
    if not _cancels_safely(fgraph, out, poly, reader.atoms):
        return None
    poly = {m: c for m, c in poly.items() if c != 0}
    if not poly:
        return None
    common, rest = _factor_out(poly)
    scale = _common_scale(rest)
    if scale != 1:
        rest = {m: c / scale for m, c in rest.items()}
    estimate = _ops_of(rest) + (len(common) + sum(1 for _, k in common if k > 1) if common else 0)
    estimate += scale != 1
    divides = any(_reciprocal_of(reader.atoms[a]) is not None for a, k in common if k == 1)
    if not reader.met and not divides and not complemented:
        return None  # nothing collects: an expanded product would only read worse
    if estimate > reader.inner or estimate == reader.inner and not divides:
        return None
    b = _Builder(reader.atoms, out.dtype)
    new = b.sum(rest)
    if scale != 1:
        new = b.op(tm.mul, b.const(scale), new)
    if common:
        divisors = [(a, k) for a, k in common if k == 1 and _reciprocal_of(reader.atoms[a]) is not None]
        factors = tuple((a, k) for a, k in common if (a, k) not in divisors)
        if factors:
            shared = b.monomial(factors)
            new = shared if isinstance(new, Constant) and scalar_const(new) == 1 else b.op(tm.mul, shared, new)
        for a, _ in divisors:  # a mean's 1/n reads as "/ n"
            new = b.op(tm.true_div, new, _reciprocal_of(reader.atoms[a]))
    if b.ops > reader.inner or b.ops == reader.inner and not divides or new.ndim != out.ndim \
            or new.dtype != out.dtype:
        return None
    if any(a is not None and s != a for a, s in zip(out.type.shape, new.type.shape)) or any(
            a is None and s == 1 for a, s in zip(out.type.shape, new.type.shape)):
        return None  # a dropped term carried the result's shape
    return [new]


def _dot_parts(v):
    node = v.owner
    if node is None or not isinstance(node.op, (Dot, Matmul)) or v.dtype != node.inputs[0].dtype:
        return None
    return node.op, node.inputs[0], node.inputs[1]


@node_rewriter("simplify", tags=("fast_run", "stability"), tracks=(S["add"], S["sub"]), reads=(Dot, Matmul))
def factor_dot_sum(fgraph, node):
    """A @ u ± A @ v → A @ (u ± v), and u @ B ± v @ B → (u ± v) @ B: one product instead of two.

    Equal to the original up to rounding for finite values (the same sums, in another
    order); a NaN in any operand still gives NaN. A zero result may carry the other sign
    (u = +0, v = -0), hence the stability tag.
    """
    a, b = node.inputs
    pa, pb = _dot_parts(a), _dot_parts(b)
    if pa is None or pb is None or pa[0] != pb[0]:
        return None
    op, combine = pa[0], node.op
    if pa[1] is pb[1] and pa[2].type == pb[2].type:
        new = op(pa[1], combine(pa[2], pb[2]))
    elif pa[2] is pb[2] and pa[1].type == pb[1].type:
        new = op(combine(pa[1], pb[1]), pa[2])
    else:
        return None
    out = node.outputs[0]
    return [new] if new.type == out.type else None


__all__ = ["collect_like_terms", "factor_dot_sum"]
