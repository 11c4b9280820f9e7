"""Rewrites that rely on Theano's broadcasting rule.

A dimension of unknown size never broadcasts at run time: an elementwise op checks
that all its operands that are not broadcastable on an axis have the same size
there. So an operand that is only a scalar spread to the shape of another
(``alloc(c, x.shape[0])``, the seed of a gradient) can be replaced by the scalar
itself, as long as the size check it stood for is kept. ``CheckSizes`` keeps it:
one comparison per call, no array, and it prints as its operand.
"""

from nbgrad.graph.basic import Constant
from nbgrad.rewriting.db import node_rewriter
from nbgrad.rewriting.patterns import dim_key, shape_entry_key
from nbgrad.tensor.elemwise import DimShuffle, Elemwise
from nbgrad.tensor.shape import Alloc, CheckSizes, MakeVector
from nbgrad.tensor.subtensor import Subtensor


def _scalar_fill(a):
    """The fill value of ``a = alloc(v, *sizes)`` when ``v`` broadcasts on every axis, else None."""
    node = a.owner
    if node is None or not isinstance(node.op, Alloc) or len(node.inputs) != a.ndim + 1:
        return None
    v = node.inputs[0]
    if not all(s == 1 for s in v.type.shape) or v.dtype != a.dtype:
        return None
    return v


@node_rewriter("simplify", tracks=(Elemwise,), reads=(Alloc,))
def elemwise_alloc_checked(fgraph, node):
    """f(alloc(c, *sizes), y) → f(c, CheckSizes(y, sizes)) where ``y`` sets the result's shape.

    Exact on every input: the value is the same wherever the original runs, and
    ``CheckSizes`` raises where the original's broadcast check would. ``y`` must
    not broadcast on any axis where the alloc has a size, so it alone gives the
    result's shape there.
    """
    out = node.outputs[0]
    inputs = list(node.inputs)
    for k, a in enumerate(inputs):
        v = _scalar_fill(a)
        if v is None:
            continue
        sizes = a.owner.inputs[1:]
        carriers = [j for j, o in enumerate(inputs) if j != k and o.ndim == out.ndim
                    and not isinstance(o, Constant) and _scalar_fill(o) is None
                    and all(o.type.shape[d] != 1 or a.type.shape[d] == 1 for d in range(out.ndim))]
        if not carriers:
            continue
        j = carriers[0]
        y = inputs[j]
        axes = [d for d in range(out.ndim)
                if a.type.shape[d] != 1 and dim_key(y, d) != shape_entry_key(sizes[d])]
        inputs[j] = CheckSizes(axes)(y, *[sizes[d] for d in axes]) if axes else y
        inputs[k] = v if v.ndim == out.ndim else DimShuffle(
            v.ndim, ("x",) * (out.ndim - v.ndim) + tuple(range(v.ndim)))(v)
        new = node.op(*inputs)
        if new.ndim != out.ndim or new.dtype != out.dtype:
            return None
        return [new]
    return None


@node_rewriter("simplify", tracks=(Elemwise,), reads=(Alloc,))
def elemwise_of_fill(fgraph, node):
    """f(alloc(c, *sizes), k) → alloc(f(c, k), *sizes) for constants c, k (exact: the same
    scalar computation, spread afterwards; ``2 * ones(n)`` is ``full(n, 2)``)."""
    out = node.outputs[0]
    fills = [k for k, a in enumerate(node.inputs) if _scalar_fill(a) is not None]
    if len(fills) != 1:
        return None
    (k,) = fills
    a = node.inputs[k]
    v = _scalar_fill(a)
    if not isinstance(v, Constant):
        return None
    others = [i for j, i in enumerate(node.inputs) if j != k]
    if not all(isinstance(o, Constant) and all(d == 1 for d in o.type.shape) and o.ndim <= a.ndim
               for o in others):
        return None
    args = list(node.inputs)
    args[k] = v
    value = node.op(*args)  # all its operands broadcast: a scalar computation
    if value.dtype != out.dtype or any(d != 1 for d in value.type.shape):
        return None
    new = Alloc()(value, *a.owner.inputs[1:])
    return [new] if new.type == out.type else None


@node_rewriter(("canonicalize", "simplify"), tracks=(CheckSizes,))
def check_sizes_useless(fgraph, node):
    """CheckSizes(y, sizes) → y where ``y``'s sizes provably equal them (exact)."""
    y, *sizes = node.inputs
    keep = [(a, s) for a, s in zip(node.op.axes, sizes) if dim_key(y, a) != shape_entry_key(s)]
    if len(keep) == len(sizes):
        return None
    if not keep:
        return [y] if y.type == node.outputs[0].type else None
    new = CheckSizes([a for a, _ in keep])(y, *[s for _, s in keep])
    return [new] if new.type == node.outputs[0].type else None


@node_rewriter(("canonicalize", "simplify"), tracks=(Subtensor,))
def make_vector_entry(fgraph, node):
    """[a, b, c][1] → b: a constant index into a vector of scalars (e.g. a shape) (exact)."""
    vec = node.inputs[0]
    if vec.owner is None or not isinstance(vec.owner.op, MakeVector) or len(node.op.idx) != 1:
        return None
    kind, *rest = node.op.idx[0]
    if kind != "int" or not isinstance(rest[0], int):
        return None
    entries = vec.owner.inputs
    if not -len(entries) <= rest[0] < len(entries):
        return None
    entry = entries[rest[0]]
    out = node.outputs[0]
    return [entry] if entry.type == out.type else None


__all__ = ["elemwise_alloc_checked", "elemwise_of_fill", "check_sizes_useless", "make_vector_entry"]
