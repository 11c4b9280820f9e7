"""Small queries that rewrites share: which op a node applies, constant values, shapes."""

import numpy as np

from nbgrad.graph.basic import Constant
from nbgrad.scalar import basic as ps
from nbgrad.tensor.elemwise import DimShuffle, Elemwise, SumToShape
from nbgrad.tensor.math import Dot
from nbgrad.tensor.shape import Alloc, Shape, ShapeI

__all__ = ["sop", "is_op", "scalar_const", "same_shape", "only_client", "known_finite",
           "known_nonzero", "dim_key", "dim_var", "neutral_const", "chain_leaves"]

S = ps.scalar_ops  # scalar op classes by name: S["mul"], S["exp"], ...


def sop(node):
    """The scalar op of an Elemwise node, else None."""
    op = node.op if node is not None else None
    return op.scalar_op if isinstance(op, Elemwise) else None


def is_op(var, name):
    """True if ``var`` is computed by the Elemwise scalar op called ``name``."""
    s = sop(var.owner) if var.owner is not None else None
    return s is not None and type(s) is S[name]


def scalar_const(var):
    """The value of a constant whose elements are all equal, else None."""
    if not isinstance(var, Constant):
        return None
    d = np.asarray(var.data)
    if d.size == 0:
        return None
    first = d.flat[0]
    if d.size == 1 or (d == first).all():
        return first.item() if hasattr(first, "item") else first
    return None


def _dim(var, d):
    """A key for axis ``d``'s size of ``var``: an int, or ('dim', var, d)."""
    s = var.type.shape[d]
    if s is not None:
        return s
    node = var.owner
    if node is not None and isinstance(node.op, Alloc) and len(node.inputs) == var.ndim + 1:
        return shape_entry_key(node.inputs[1 + d])
    if node is not None and isinstance(node.op, Elemwise):
        # the size of an elementwise result follows its inputs that are not broadcast there
        cands = {_dim(i, d) for i in node.inputs if i.type.shape[d] != 1}
        if len(cands) == 1:
            return cands.pop()
    if node is not None and isinstance(node.op, DimShuffle):
        src = node.op.new_order[d]
        return 1 if src == "x" else _dim(node.inputs[0], src)
    if node is not None and isinstance(node.op, SumToShape):
        # the result has the target shape: shape(x) gives x's sizes
        shp = node.inputs[1]
        if shp.owner is not None and isinstance(shp.owner.op, Shape):
            return _dim(shp.owner.inputs[0], d)
    if node is not None and isinstance(node.op, Dot):
        a, b = node.inputs
        return _dim(a, d) if d < a.ndim - 1 else _dim(b, d - (a.ndim - 1) + 1)
    return ("dim", var, d)


def dim_key(var, d):
    return _dim(var, d)


def dim_var(var, d):
    """A variable for axis ``d``'s size of ``var`` found through the shape rules, or None.

    A constant when the size is static, ``shape_i`` of the variable the size comes
    from (an input of an elementwise chain, the operand of a dot, ...), or the
    ``alloc`` shape argument it was made with. None when nothing simpler is known.
    """
    from nbgrad.tensor.basic import constant

    key = _dim(var, d)
    if isinstance(key, int):
        return constant(np.int64(key))
    if key[0] == "dim" and (key[1] is not var or key[2] != d):
        return ShapeI(key[2])(key[1])
    if key[0] == "entry" and key[1].ndim == 0:
        return key[1]
    return None


def neutral_const(var):
    """The value of a constant that broadcasts without adding size (all axes 1), else None."""
    if not all(s == 1 for s in var.type.shape):
        return None
    return scalar_const(var)


def shape_entry_key(s):
    """The key of an Alloc shape argument (a constant, or ShapeI of some variable)."""
    v = scalar_const(s)
    if v is not None:
        return int(v)
    if s.owner is not None and isinstance(s.owner.op, ShapeI):
        return _dim(s.owner.inputs[0], s.owner.op.i)
    return ("entry", s)


def same_shape(a, b):
    """True if ``a`` and ``b`` provably have the same shape at run time."""
    if a.ndim != b.ndim:
        return False
    return all(_dim(a, d) == _dim(b, d) for d in range(a.ndim))


def chain_leaves(fgraph, v, root, kind, dtype):
    """Operands of the ``kind`` tree (``"mul"``, ``"add"``) under ``v``, through nodes of
    ``dtype`` used only inside it: ``(x * y) * exp(z)`` → ``[x, y, exp(z)]``."""
    if (v.owner is not None and type(sop(v.owner)) is S[kind] and v.dtype == dtype
            and (v is root or len(fgraph.clients.get(v, ())) == 1)):
        res = []
        for i in v.owner.inputs:
            res.extend(chain_leaves(fgraph, i, root, kind, dtype))
        return res
    return [v]


def only_client(fgraph, var, node):
    """True if ``node`` is the only user of ``var`` (and it is not a graph output)."""
    cl = fgraph.clients.get(var, ())
    return bool(cl) and all(c is node for c, _ in cl)


# finite for every finite input
_FINITE_OPS = ("sigmoid", "tanh", "erf", "erfc", "sign", "arctan", "relu", "neg", "abs")


def known_nonzero(var):
    """True if no element of ``var`` is zero (a nonzero constant, possibly broadcast)."""
    if isinstance(var, Constant):
        return bool((np.asarray(var.data) != 0).all())
    node = var.owner
    from nbgrad.tensor.elemwise import DimShuffle

    if node is not None and isinstance(node.op, (Alloc, DimShuffle)):
        return known_nonzero(node.inputs[0])
    return False


def known_finite(var, depth=3):
    """True if every element of ``var`` is provably finite (no NaN, no inf)."""
    if var.dtype.startswith(("int", "uint", "bool")):
        return True
    if isinstance(var, Constant):
        return bool(np.isfinite(np.asarray(var.data)).all())
    node = var.owner
    if node is None or depth == 0:
        return False
    s = sop(node)
    if s is not None and s.name in _FINITE_OPS:
        return all(known_finite(i, depth - 1) for i in node.inputs)
    if s is not None and type(s) is ps.Cast:
        return known_finite(node.inputs[0], depth - 1)
    from nbgrad.tensor.elemwise import DimShuffle

    if isinstance(node.op, (Alloc, DimShuffle)):
        return known_finite(node.inputs[0], depth - 1)
    return False
