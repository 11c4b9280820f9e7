"""Theano's ``theano.tensor.extra_ops``: cumulative sums and products, differences, repeats,
one-hot codes, diagonals and the Bartlett window.

``CumOp`` is an op of its own; the others are built from nbgrad's indexing and elementwise
ops, so their gradients come from those. The members of Theano's module that nbgrad does
not provide (``bincount``, ``unique``, ``searchsorted``, ...) raise an error that names them
and the nbgrad way.
"""

from nbgrad.config import config
from nbgrad.graph.basic import Apply
from nbgrad.graph.op import Op
from nbgrad.tensor.basic import as_tensor_variable
from nbgrad.tensor.batching import is_batched
from nbgrad.tensor.math import abs_, cast, eq, maximum, minimum, switch
from nbgrad.tensor.shape import arange, shape_i, squeeze
from nbgrad.tensor.subtensor import set_subtensor, take

__all__ = ["CumOp", "cumsum", "cumprod", "diff", "repeat", "to_one_hot", "squeeze", "fill_diagonal",
           "fill_diagonal_offset", "bartlett"]


def _flip(x, axis):
    idx = [slice(None)] * x.ndim
    idx[axis] = slice(None, None, -1)
    return x[tuple(idx)]


class CumOp(Op):
    """y = cumulative sum (``mode='add'``) or product (``mode='mul'``) of ``x`` along ``axis``.

    add: x̄ = flip(cumsum(flip(ȳ))), ẏ = cumsum(ẋ).
    mul: x̄ = flip(cumsum(flip(ȳ·y))) / x, ẏ = y · cumsum(ẋ / x) (both need x without zeros).
    """

    __props__ = ("axis", "mode")

    def __init__(self, axis, mode="add"):
        if mode not in ("add", "mul"):
            raise ValueError(f"CumOp: mode must be 'add' or 'mul', got {mode!r}")
        self.axis = int(axis)
        self.mode = mode

    def __str__(self):
        name = "cumsum" if self.mode == "add" else "cumprod"
        return name if self.axis == 0 else f"{name}{{axis={self.axis}}}"

    def make_node(self, x):
        x = as_tensor_variable(x)
        if x.dtype == "bool":
            x = cast(x, "int64")
        if not 0 <= self.axis < max(x.ndim, 1):
            raise ValueError(f"{self}: axis {self.axis} out of range for {x.type}")
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, xp):
        (x,) = inputs
        accumulate = xp.cumsum if self.mode == "add" else xp.cumprod
        return accumulate(x, axis=self.axis, dtype=x.dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0]]

    def L_op(self, inputs, outputs, output_grads):
        (x,) = inputs
        (gy,) = output_grads
        reverse_sum = CumOp(self.axis, "add")
        if self.mode == "add":
            return [_flip(reverse_sum(_flip(gy, self.axis)), self.axis)]
        (y,) = outputs
        return [_flip(reverse_sum(_flip(gy * y, self.axis)), self.axis) / x]

    def vectorize_node(self, node, inputs):
        (x,) = inputs
        axis = self.axis + 1 if is_batched(x, node.inputs[0]) else self.axis
        return [CumOp(axis, self.mode)(x)]

    def R_op(self, inputs, eval_points):
        (ex,) = eval_points
        if ex is None:
            return [None]
        if self.mode == "add":
            return [self(ex)]
        (x,) = inputs
        return [self(x) * CumOp(self.axis, "add")(ex / x)]


def _cum(x, axis, mode):
    x = as_tensor_variable(x)
    if axis is None:
        x, axis = x.flatten(), 0
    return CumOp(axis % max(x.ndim, 1), mode)(x)


def cumsum(x, axis=None):
    """Cumulative sum along ``axis`` (of the flattened ``x`` when ``axis`` is None), like ``numpy.cumsum``.

    >>> import numpy as np, nbgrad, nbgrad.tensor as T
    >>> from nbgrad.tensor.extra_ops import cumsum
    >>> v = T.dvector("v")
    >>> nbgrad.function([v], cumsum(v))(np.array([1.0, 2.0, 3.0]))
    array([1., 3., 6.])
    """
    return _cum(x, axis, "add")


def cumprod(x, axis=None):
    """Cumulative product along ``axis`` (of the flattened ``x`` when ``axis`` is None), like ``numpy.cumprod``.

    Its gradient divides by ``x``: it is defined where ``x`` has no zeros.
    """
    return _cum(x, axis, "mul")


def diff(x, n=1, axis=-1):
    """The ``n``-th difference along ``axis``, like ``numpy.diff``: x[1:] − x[:-1], ``n`` times."""
    x = as_tensor_variable(x)
    axis %= x.ndim
    head, tail = [slice(None)] * x.ndim, [slice(None)] * x.ndim
    head[axis], tail[axis] = slice(1, None), slice(None, -1)
    for _ in range(int(n)):
        x = x[tuple(head)] - x[tuple(tail)]
    return x


def repeat(x, repeats, axis=None):
    """Each element of ``x`` ``repeats`` times along ``axis`` (flattened when None), like ``numpy.repeat``.

    ``repeats`` is one integer (a number or an integer scalar variable); per-element counts
    (a vector) are not provided: build the index vector with NumPy and use ``T.take``.
    """
    x = as_tensor_variable(x)
    repeats = as_tensor_variable(repeats)
    if repeats.ndim != 0 or not repeats.dtype.startswith(("int", "uint")):
        raise TypeError(
            f"repeat: nbgrad takes one integer count of repeats, got {repeats.type}; for per-element "
            "counts, index with T.take(x, numpy.repeat(numpy.arange(n), counts), axis)"
        )
    if axis is None:
        x, axis = x.flatten(), 0
    axis %= x.ndim
    total = shape_i(x, axis) * repeats
    return take(x, arange(total) // repeats, axis=axis)


def to_one_hot(y, nb_class, dtype=None):
    """Rows of one-hot codes for the integer labels ``y``: a (len(y), nb_class) matrix of ``dtype``
    (``config.floatX`` by default)."""
    y = as_tensor_variable(y)
    if y.ndim != 1 or not y.dtype.startswith(("int", "uint")):
        raise TypeError(f"to_one_hot takes a vector of integer labels, got {y.type}")
    return cast(eq(y.dimshuffle(0, "x"), arange(nb_class)), dtype or config.floatX)


def fill_diagonal(a, val):
    """``a`` with its main diagonal set to the scalar ``val`` (all axes of ``a`` indexed alike)."""
    a = as_tensor_variable(a)
    if a.ndim < 2:
        raise TypeError(f"fill_diagonal takes a matrix or higher, got {a.type}")
    k = shape_i(a, 0)
    for d in range(1, a.ndim):
        k = minimum(k, shape_i(a, d))
    i = arange(k)
    return set_subtensor(a[(i,) * a.ndim], val)


def fill_diagonal_offset(a, val, offset):
    """Matrix ``a`` with the diagonal ``offset`` above the main one (below when negative) set to ``val``."""
    a = as_tensor_variable(a)
    if a.ndim != 2:
        raise TypeError(f"fill_diagonal_offset takes a matrix, got {a.type}")
    offset = as_tensor_variable(offset)
    first_row, first_col = maximum(-offset, 0), maximum(offset, 0)
    k = maximum(minimum(shape_i(a, 0) - first_row, shape_i(a, 1) - first_col), 0)
    i = arange(k)
    return set_subtensor(a[i + first_row, i + first_col], val)


def bartlett(M):
    """The Bartlett (triangular) window of ``M`` points, like ``numpy.bartlett``."""
    M = as_tensor_variable(M)
    n = cast(arange(M), "float64")
    width = cast(maximum(M - 1, 1), "float64")
    return switch(M > 1, 1.0 - abs_(2.0 * n / width - 1.0), 1.0)


_LEFT_OUT = {
    "bincount": "counts of integer values",
    "unique": "the distinct values",
    "searchsorted": "insertion indices in a sorted vector",
    "compress": "selection by a boolean condition",
    "ravel_multi_index": "flat indices from index tuples",
    "unravel_index": "index tuples from flat indices",
    "cpu_contiguous": "a contiguous copy",
    "CpuContiguous": "a contiguous copy",
}


def __getattr__(name):
    if name in _LEFT_OUT:
        raise ImportError(
            f"nbgrad.tensor.extra_ops.{name}: nbgrad does not provide Theano's {name} "
            f"({_LEFT_OUT[name]}); compute it with NumPy on values outside the graph, or use the "
            "nbgrad.tensor functions (indexing, T.eq(T.arange(n), labels[:, None]) for one-hot codes, "
            "T.sum of such codes for counts)"
        )
    raise AttributeError(f"module 'nbgrad.tensor.extra_ops' has no attribute {name!r}")
