"""Rewrites of indexing: the gradient of several slices of one vector.

The gradient of ``theta[:350]``, ``theta[350:385]``, ... is a sum of increments of
zeros, ``inc(zeros, g1, :350) + inc(zeros, g2, 350:385) + ...``: one full-size array per
slice, then the additions. Incrementing one array slice after slice gives the same
values, bit for bit, with one array, and the increments after the first then write into
it in place (``inc_subtensor_inplace``).
"""

import numpy as np

from nbgrad.graph.basic import Constant
from nbgrad.rewriting.db import graph_rewriter, node_rewriter
from nbgrad.rewriting.driver import replace_node
from nbgrad.rewriting.patterns import S, chain_inner, same_shape, tree_leaves
from nbgrad.tensor.shape import Alloc
from nbgrad.tensor.subtensor import IncSubtensor

__all__ = ["sum_of_increments", "inc_subtensor_inplace"]


def _positive_zeros(v):
    """Whether ``v`` is +0.0 everywhere: a constant, or an ``alloc`` of one."""
    if v.owner is not None and isinstance(v.owner.op, Alloc):
        v = v.owner.inputs[0]
    if not isinstance(v, Constant):
        return False
    d = np.asarray(v.data)
    return d.size > 0 and not d.any() and not np.signbit(d).any()


def _increment_of_zeros(fgraph, leaf, out):
    """Whether ``leaf`` is ``inc(zeros, y, idx)`` of ``out``'s shape, used only by ``out``'s sum."""
    node = leaf.owner
    if node is None or not isinstance(node.op, IncSubtensor) or node.op.set_instead_of_inc:
        return False
    return (len(fgraph.clients.get(leaf, ())) == 1 and leaf.dtype == out.dtype
            and _positive_zeros(node.inputs[0]) and same_shape(leaf, out))


@node_rewriter("simplify", tracks=(S["add"],), chain=True, reads=(IncSubtensor,))
def sum_of_increments(fgraph, node):
    """inc(0, y1, i1) + inc(0, y2, i2) + ... → inc(inc(inc(0, y1, i1), y2, i2), ...).

    Exact for every value, the sign of zero included: the sum is a left-to-right chain
    of additions, and each element adds the same terms in the same order (an element
    outside an index adds +0.0, which changes nothing but a -0.0 that the first
    increment already made +0.0).
    """
    out = node.outputs[0]
    inner = chain_inner(fgraph, out, "add", out.dtype)
    u = out
    while inner(u):  # a left chain only: ((a + b) + c) + d
        if len(u.owner.inputs) != 2 or inner(u.owner.inputs[1]):
            return None
        u = u.owner.inputs[0]
    leaves = tree_leaves(out, inner)
    if len(leaves) < 2 or not all(_increment_of_zeros(fgraph, leaf, out) for leaf in leaves):
        return None
    acc = leaves[0]
    for leaf in leaves[1:]:
        inc = leaf.owner
        acc = IncSubtensor(inc.op.idx)(acc, *inc.inputs[1:])
    return [acc] if acc.type == out.type else None


@graph_rewriter("inplace", tags=("fast_run", "inplace"))
def inc_subtensor_inplace(fgraph):
    """An increment writes into its array when nothing else reads it (one copy, not one each)."""
    n = 0
    for node in fgraph.toposort():
        if type(node.op) is not IncSubtensor or node.op.inplace:
            continue
        x = node.inputs[0]
        # x is a buffer of this call's (Op.allocates) that no other node reads the values of
        if x.owner is None or not x.owner.op.allocates(x) or x in fgraph.outputs:
            continue
        readers = [c for c, _ in fgraph.clients.get(x, ()) if getattr(c, "op", None) is None
                   or c.op.reads_input_values]
        if readers != [node] or any(i is x for i in node.inputs[1:]):
            continue
        op = node.op
        new = IncSubtensor(op.idx, op.set_instead_of_inc, inplace=True).make_node(*node.inputs).outputs[0]
        replace_node(fgraph, node, [new], "inc_subtensor_inplace")
        n += 1
    return n
