"""Constant folding: a node whose inputs are all constants becomes a constant."""

import numpy as np

from nbgrad.graph.basic import Constant
from nbgrad.rewriting.db import node_rewriter
from nbgrad.tensor.elemwise import DimShuffle
from nbgrad.tensor.shape import Alloc, Shape, ShapeI
from nbgrad.tensor.type import TensorType
from nbgrad.tensor.variable import TensorConstant

#: Folded results larger than this stay computed at run time (constants live in memory).
MAX_FOLDED_SIZE = 10_000


#: Types of folded results by (dtype, shape): a type is an immutable value, and a graph
#: folds many constants of a few types (a broadcast 1 for each term of a sum).
_TYPES = {}
_MAX_TYPES = 4096


def _as_constant(value, like):
    arr = np.asarray(value, dtype=like.dtype)
    if arr.ndim != like.ndim:
        return None
    key = (arr.dtype, arr.shape)
    typ = _TYPES.get(key)
    if typ is None:
        typ = TensorType(arr.dtype, arr.shape)
        if len(_TYPES) < _MAX_TYPES:
            _TYPES[key] = typ
    return TensorConstant(typ, arr)


@node_rewriter(("constant_fold", "simplify", "specialize"))
def constant_folding(fgraph, node):
    """f(c1, c2, ...) → the constant f(c1, c2, ...)."""
    for i in node.inputs:  # a loop, not all(...): this runs on every node of every graph
        if not isinstance(i, Constant):
            return None
    if not all(isinstance(o.type, TensorType) for o in node.outputs):
        return None
    if getattr(node.op, "fold", True) is False or node.op.destroy_map:
        return None
    if type(node.op) is DimShuffle:
        # a broadcast or transposed constant (one per scalar operand of a broadcasting
        # product: 10⁵ of them in a sum of 10⁵ terms ``x * cₖ``): a view, no thunk
        (c,) = node.inputs
        return [_as_constant(node.op.perform(node, (c.data,), np), node.outputs[0])]
    if isinstance(node.op, Alloc):
        size = int(np.prod([int(np.asarray(s.data)) for s in node.inputs[1:]], dtype=np.int64))
        if size > MAX_FOLDED_SIZE:
            return None
    with np.errstate(all="ignore"):
        res = node.op.make_thunk(node, np)(*[i.data for i in node.inputs])
    res = [res] if len(node.outputs) == 1 else list(res)
    out = []
    for r, o in zip(res, node.outputs):
        if np.size(r) > MAX_FOLDED_SIZE:
            return None
        c = _as_constant(r, o)
        if c is None:
            return None
        out.append(c)
    return out


@node_rewriter(("constant_fold", "simplify", "specialize"), tracks=(Shape, ShapeI))
def shape_static(fgraph, node):
    """shape(x) and shape_i(x, i) → constants when the static shape of ``x`` knows them."""
    x = node.inputs[0]
    if isinstance(node.op, ShapeI):
        s = x.type.shape[node.op.i]
        return None if s is None else [_as_constant(np.int64(s), node.outputs[0])]
    if None in x.type.shape:
        return None
    return [_as_constant(np.asarray(x.type.shape, dtype="int64"), node.outputs[0])]
