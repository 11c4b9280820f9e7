"""Canonical forms: gradient-only ops removed, redundant shuffles, allocs and casts dropped,
commutative operands in one order, so that equivalent expressions meet in ``merge``."""

from nbgrad.gradient import _GradientOp
from nbgrad.graph.basic import Constant
from nbgrad.rewriting.db import node_rewriter
from nbgrad.rewriting.patterns import S
from nbgrad.scalar import basic as ps
from nbgrad.tensor.elemwise import DimShuffle
from nbgrad.tensor.shape import Alloc


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
    from nbgrad.rewriting.patterns import shape_entry_key, dim_key

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
    """a ⊕ b → b ⊕ a for commutative ⊕ so that constants come last and operands sort stably."""
    a, b = node.inputs
    if _order_key(a) > _order_key(b):
        return [node.op(b, a)]
    return None


__all__ = ["remove_gradient_ops", "dimshuffle_identity", "dimshuffle_dimshuffle",
           "alloc_useless", "cast_useless", "commutative_order"]
