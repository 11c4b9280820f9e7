"""One-hot batches: products, sums and matrix products of them computed on their nonzero values.

A batched Jacobian over the rows of an identity that a reshape turns into the
unit matrices of a weight (``X @ Eₐᵦ``, the first layer's tangent in the Hessian
of an MLP w.r.t. a flat parameter vector) is dense as written: every entry is a
full (batch, rows, columns) block, zero but for one column. Each entry of such
a batch is nonzero at one place along some axes (``nbgrad.tensor.onehot``):
``Diagonals`` with one offset that covers every row, and reshapes and
transposes of that, are read as such. ``push_one_hot`` moves the operations
that keep the structure, or that make a smaller dense result from it, onto the
nonzero values:

- a product (or quotient) with operands that are the same for every batch entry:
  the values times those operands taken at each entry's place;
- a sum over axes: over the other axes of the values; over a one-hot axis the
  axis goes away;
- a matrix product with a matrix that is the same for every entry: a product of
  the values with the matrix's rows or columns at each entry's place, or an outer
  product where the contracted axis is the one-hot one;
- an integer index of a size-1 axis of the values.

Where a one-hot batch meets anything else it is written out once (``OneHot``).
The values are taken at the places where the dense batch is nonzero, so the
results equal the dense computation's to rounding for finite operands. The
other entries are structural zeros, as the rows of ``nbgrad.banded`` are: where
the dense form multiplied them by an infinity or NaN of an operand (0 · inf,
NaN), they stay zero.
"""

import numpy as np

from nbgrad.rewriting.db import graph_rewriter
from nbgrad.rewriting.patterns import is_op
from nbgrad.graph.basic import Constant
from nbgrad.tensor.basic import constant
from nbgrad.tensor.elemwise import DimShuffle
from nbgrad.tensor.math import Matmul, Sum, dot
from nbgrad.tensor.math import sum as tsum
from nbgrad.tensor.onehot import OneHot
from nbgrad.tensor.shape import Alloc, Reshape, alloc
from nbgrad.tensor.subtensor import Subtensor
from nbgrad.banded import Diagonals

__all__ = ["push_one_hot"]

#: a one-hot batch is looked for behind at most this many reshapes and transposes
_MAX_DEPTH = 8
#: constants of more elements are not searched for one nonzero per entry (compile time)
_MAX_CONSTANT_SIZE = 1 << 20


class _Hot:
    """A batch ``(n, *shape)`` nonzero at ``index[j][i]`` along core axis ``axes[j]``, equal to ``values``
    there (shape ``(n, *rest)``, ``rest`` the other core axes in order)."""

    __slots__ = ("shape", "axes", "index", "values")

    def __init__(self, shape, axes, index, values):
        self.shape, self.axes = tuple(shape), tuple(axes)
        self.index = [np.asarray(ix, dtype=np.int64) for ix in index]
        self.values = values

    @property
    def n(self):
        return len(self.index[0])

    def rest(self):
        return [a for a in range(len(self.shape)) if a not in self.axes]

    def at(self, axis):
        """The index vector of one-hot core ``axis``."""
        return self.index[self.axes.index(axis)]

    def dense(self):
        return OneHot(self.shape, self.axes, [tuple(ix.tolist()) for ix in self.index])(self.values)


def _const_ints(v):
    if not isinstance(v, Constant):
        return None
    data = np.asarray(v.data)
    return tuple(int(x) for x in data.reshape(-1)) if data.dtype.kind in "iu" else None


def _from_diagonals(node):
    if len(node.op.offsets) != 1:
        return None
    n, m = (_const_ints(v) for v in node.inputs[:2])
    if n is None or m is None:
        return None
    (n,), (m,), (k,) = n, m, node.op.offsets
    if not (0 <= -k and n - k <= m):  # every row i has its one at column i - k
        return None
    d = node.inputs[2]
    values = d if (-k == 0 and n == m and d.type.shape[0] == m) else d[-k : n - k]
    return _Hot((m,), (0,), [np.arange(n) - k], values)


def _from_reshape(node, depth):
    hot = _hot(node.inputs[0], depth + 1)
    target = _const_ints(node.inputs[1])
    if target is None and None not in node.outputs[0].type.shape:  # sizes the reshape's type knows
        target = node.outputs[0].type.shape
    if hot is None or target is None or hot.rest() or target[0] != hot.n:
        return None
    shape = target[1:]
    if any(s < 0 for s in shape) or int(np.prod(shape)) != int(np.prod(hot.shape)):
        return None
    flat = np.ravel_multi_index(tuple(hot.index), hot.shape) if hot.shape else np.zeros(hot.n, np.int64)
    if not shape:
        return None
    return _Hot(shape, range(len(shape)), np.unravel_index(flat, shape), hot.values)


def _from_dimshuffle(node, depth):
    order = node.op.new_order
    if not order or order[0] != 0:
        return None
    hot = _hot(node.inputs[0], depth + 1)
    if hot is None:
        return None
    rest = hot.rest()
    dropped = [1 + rest.index(b - 1) for b in node.op.drop if b - 1 in rest]
    if any(hot.values.type.shape[j] != 1 for j in dropped):
        return None
    shape, axes, index, values_order = [], [], [], [0]
    for p, b in enumerate(order[1:]):
        if b == "x":
            shape.append(1)
            values_order.append("x")
            continue
        shape.append(hot.shape[b - 1])
        if b - 1 in hot.axes:
            axes.append(p)
            index.append(hot.at(b - 1))
        else:
            values_order.append(1 + rest.index(b - 1))
    if not axes:
        return None
    values = hot.values
    if tuple(values_order) != tuple(range(values.ndim)):
        values = DimShuffle(values.ndim, values_order)(values)
    return _Hot(shape, axes, index, values)


def _from_constant(v):
    """A constant batch of matrices (or more) with one nonzero per entry; kept on its tag."""
    tag = v.tag
    if not hasattr(tag, "one_hot"):
        data = np.asarray(v.data)
        tag.one_hot = None
        if data.ndim >= 3 and 0 < data.size <= _MAX_CONSTANT_SIZE and data.dtype.kind == "f":
            flat = data.reshape(data.shape[0], -1)
            where = (flat != 0).argmax(axis=1) if flat.shape[1] else None
            if where is not None and np.array_equal(np.count_nonzero(flat, axis=1), np.ones(len(flat))):
                index = np.unravel_index(where, data.shape[1:])
                tag.one_hot = (index, flat[np.arange(len(flat)), where])
    if tag.one_hot is None:
        return None
    index, values = tag.one_hot
    shape = v.type.shape[1:]
    axes = [a for a, size in enumerate(shape) if size != 1]  # a size-1 axis is one of the values'
    if not axes:
        return None
    values = values.reshape((len(values),) + (1,) * (len(shape) - len(axes)))
    return _Hot(shape, axes, [index[a] for a in axes], constant(values))


def _from_alloc(node, depth):
    """A one-hot batch broadcast along axes other than its one-hot ones."""
    dims = [_const_ints(d) for d in node.inputs[1:]]
    x = node.inputs[0]
    if None in dims or x.ndim != len(dims):
        return None
    dims = [d for (d,) in dims]
    hot = _hot(x, depth + 1)
    if hot is None or dims[0] != hot.n or any(dims[1 + a] != hot.shape[a] for a in hot.axes):
        return None
    shape = dims[1:]
    values = alloc(hot.values, hot.n, *[shape[a] for a in hot.rest()])
    return _Hot(shape, hot.axes, hot.index, values)


def _hot(v, depth=0):
    """``v`` as a one-hot batch (``_Hot``), or None."""
    if isinstance(v, Constant):
        return _from_constant(v)
    node = v.owner
    if node is None or depth > _MAX_DEPTH:
        return None
    op = node.op
    if isinstance(op, OneHot):
        return _Hot(op.shape, op.axes, op.index, node.inputs[0])
    if isinstance(op, Diagonals):
        return _from_diagonals(node)
    if isinstance(op, Reshape):
        return _from_reshape(node, depth)
    if isinstance(op, Alloc):
        return _from_alloc(node, depth)
    if isinstance(op, DimShuffle):
        return _from_dimshuffle(node, depth)
    return None


def _same_for_every_entry(u, ndim):
    """Whether ``u`` (an operand of a batch of ``ndim`` dimensions) has a batch axis of static size 1."""
    return u.ndim == ndim and u.type.shape[0] == 1


def _taken_at(u, hot):
    """``u`` (shape ``(1, *core)``, broadcasting) at each entry's place: shape ``(n or 1, *rest)``."""
    core = u.ndim - 1
    gathered = [a for a in hot.axes if u.type.shape[1 + a] != 1]
    others = [a for a in range(core) if a not in hot.axes]
    u0 = DimShuffle(u.ndim, [1 + a for a in gathered + others])(u)  # drops the broadcast axes
    if not gathered:
        return DimShuffle(u0.ndim, ["x", *range(u0.ndim)])(u0)
    return u0[tuple(constant(hot.at(a)) for a in gathered)]


def _push_elemwise(node, i, hot):
    """``op(..., hot, ...)`` with the others the same for every entry, for an op that keeps zeros."""
    out = node.outputs[0]
    others = [u for j, u in enumerate(node.inputs) if j != i]
    if not all(_same_for_every_entry(u, out.ndim) for u in others):
        return None
    if is_op(out, "true_div") and i != 0:
        return None
    if not (is_op(out, "mul") or is_op(out, "neg") or is_op(out, "true_div")):
        return None
    core = tuple(out.type.shape[1:])
    if len(core) != len(hot.shape) or any(core[a] != hot.shape[a] for a in hot.axes):
        return None
    if any(c is not None and h is not None and c != h for c, h in zip(core, hot.shape)):
        return None
    args = [hot.values if j == i else _taken_at(u, hot) for j, u in enumerate(node.inputs)]
    return _Hot(core, hot.axes, hot.index, node.op(*args))


def _push_sum(node, hot):
    axes = node.op.axis
    if 0 in axes:
        return None
    core = [a - 1 for a in axes]
    rest = hot.rest()
    summed = [1 + rest.index(a) for a in core if a in rest]
    values = tsum(hot.values, axis=tuple(summed)) if summed else hot.values
    kept_axes = [a for a in hot.axes if a not in core]
    if not kept_axes:
        return values  # every one-hot axis summed away: the values are the dense result

    def renumber(a):
        return a - sum(1 for c in core if c < a)

    shape = [s for a, s in enumerate(hot.shape) if a not in core]
    return _Hot(shape, [renumber(a) for a in kept_axes], [hot.at(a) for a in kept_axes], values)


def _matrix(u):
    """``u`` as a matrix if it is one, or a batch of one matrix; else None."""
    if u.ndim == 2:
        return u
    if u.ndim == 3 and u.type.shape[0] == 1:
        return DimShuffle(3, (1, 2))(u)
    return None


def _outer(a, b):
    """``a[:, :, None] * b[:, None, :]`` for matrices a (n, p), b (n, t)."""
    return DimShuffle(2, (0, 1, "x"))(a) * DimShuffle(2, (0, "x", 1))(b)


def _push_matmul(node, i, hot):
    """A matrix product of a one-hot batch of matrices with a matrix the same for every entry."""
    if len(hot.shape) != 2:
        return None
    other = _matrix(node.inputs[1 - i])
    if other is None:
        return None
    v = hot.values
    if i == 1:  # A @ S: S's axis 0 is contracted
        at = other.T  # (p, q): row j is A's column j
        if hot.axes == (0, 1):
            values = at[constant(hot.at(0))] * DimShuffle(1, (0, "x"))(v)
            return _Hot((other.type.shape[0], hot.shape[1]), (1,), [hot.at(1)], values)
        if hot.axes == (1,):
            return _Hot((other.type.shape[0], hot.shape[1]), (1,), [hot.at(1)], dot(v, at))
        return _outer(at[constant(hot.at(0))], v)  # axes (0,): (n, q, s)
    # S @ B: S's axis 1 is contracted
    if hot.axes == (0, 1):
        values = other[constant(hot.at(1))] * DimShuffle(1, (0, "x"))(v)
        return _Hot((hot.shape[0], other.type.shape[1]), (0,), [hot.at(0)], values)
    if hot.axes == (0,):
        return _Hot((hot.shape[0], other.type.shape[1]), (0,), [hot.at(0)], dot(v, other))
    return _outer(v, other[constant(hot.at(1))])  # axes (1,): (n, p, t)


def _push_subtensor(node, hot):
    """``S[:, ..., 0, ...]`` of size-1 axes of the values (full slices elsewhere)."""
    op = node.op
    if node.inputs[1:] or not op.idx or op.idx[0] != ("slice", None, None, None):
        return None
    dropped = []
    for a, d in enumerate(op.idx[1:]):
        if d == ("slice", None, None, None):
            continue
        if d[0] != "int" or d[1] != 0 or a in hot.axes or hot.shape[a] != 1:
            return None
        dropped.append(a)
    rest = hot.rest()
    values = hot.values[(slice(None), *[0 if a in dropped else slice(None) for a in rest])]
    kept = [a for a in range(len(hot.shape)) if a not in dropped]
    shape = [hot.shape[a] for a in kept]
    return _Hot(shape, [kept.index(a) for a in hot.axes], hot.index, values)


def _push(node):
    """The output of ``node`` computed from a one-hot input's values, or None."""
    out = node.outputs[0]
    if len(node.outputs) != 1 or not out.dtype.startswith(("float", "complex")):
        return None
    found = [(i, h) for i, h in ((i, _hot(x)) for i, x in enumerate(node.inputs)) if h is not None]
    if len(found) != 1:
        return None
    (i, hot), op = found[0], node.op
    if len(hot.shape) < 2:  # one place in a vector: as many values as the dense form writes
        return None
    if out.ndim < 1 or out.type.shape[0] not in (None, hot.n):
        return None
    if isinstance(op, Sum) and i == 0:
        return _push_sum(node, hot)
    if isinstance(op, Matmul) and out.ndim == 3:
        return _push_matmul(node, i, hot)
    if isinstance(op, Subtensor) and i == 0:
        return _push_subtensor(node, hot)
    if hasattr(op, "scalar_op"):
        return _push_elemwise(node, i, hot)
    return None


def _may_hold_one_hot(fgraph):
    """Whether ``fgraph`` has a node or constant that ``_hot`` starts a one-hot batch from:
    a ``OneHot`` or ``Diagonals`` node, or a constant of three dimensions or more (reshapes,
    transposes and allocs only carry a batch found behind them)."""
    if any(isinstance(node.op, (OneHot, Diagonals)) for node in fgraph.apply_nodes):
        return True
    return any(
        v.owner is None and isinstance(v, Constant) and getattr(v.type, "ndim", 0) >= 3
        for v in fgraph.variables
    )


@graph_rewriter("specialize", tags=("fast_run", "one_hot"))
def push_one_hot(fgraph):
    """Compute the operations that keep a one-hot batch on its nonzero values (see the module)."""
    if not _may_hold_one_hot(fgraph):
        return 0
    n = 0
    changed = True
    while changed:
        changed = False
        for node in fgraph.toposort():
            if node not in fgraph.apply_nodes:
                continue
            result = _push(node)
            if result is None:
                continue
            new = result.dense() if isinstance(result, _Hot) else result
            old = node.outputs[0]
            if new.dtype != old.dtype or new.ndim != old.ndim:
                continue
            fgraph.replace(old, new, reason="push_one_hot")
            n += 1
            changed = True
    return n
