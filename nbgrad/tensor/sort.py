"""Sorting: Theano's ``theano.tensor.sort`` (``sort``, ``argsort``, ``topk``, ``argtopk``,
``topk_and_argtopk``).

Two ops: ``SortOp`` (the sorted values) and ``ArgSortOp`` (the permutation that sorts).
Both sort stably, on every backend: equal elements keep their order, and in a descending
sort too (the order ``torch.sort(..., stable=True)`` gives), so that indices are the same
on NumPy and CuPy. NaN sorts as the largest value. ``topk`` and its relatives are an
argsort followed by a slice and a gather: one op fewer to keep right, and the same order
and ties as ``sort``; for the sizes of course work a full sort costs no more than
``numpy.argpartition`` followed by a sort of the ``k`` selected values.
"""

import numpy as np

from nbgrad.graph.basic import Apply
from nbgrad.graph.nograd import disconnected_type
from nbgrad.graph.op import Op
from nbgrad.tensor.basic import as_tensor_variable
from nbgrad.tensor.batching import is_batched
from nbgrad.tensor.math import cast
from nbgrad.tensor.shape import arange, shape_i
from nbgrad.tensor.type import TensorType, discrete_dtypes

__all__ = ["SortOp", "ArgSortOp", "sort", "argsort", "take_along_axis", "topk", "argtopk", "topk_and_argtopk"]

_KINDS = ("quicksort", "mergesort", "heapsort", "stable")


def _stable_argsort(xp, x, axis, descending):
    """Indices that sort ``x`` along ``axis``, ties in their original order."""
    # NumPy sorts stably when asked; CuPy always does (and takes no ``kind``).
    kind = {"kind": "stable"} if xp is np else {}
    if not descending:
        return xp.argsort(x, axis=axis, **kind)
    # Descending and stable: sort the reversed array ascending (stably), reverse the result,
    # and map positions in the reversed array back (equal values then keep their order).
    idx = xp.argsort(xp.flip(x, axis), axis=axis, **kind)
    return (x.shape[axis] - 1) - xp.flip(idx, axis)


class _SortBase(Op):
    __props__ = ("axis", "descending")

    def __init__(self, axis, descending=False):
        self.axis = int(axis)
        self.descending = bool(descending)

    def __str__(self):
        opts = [f"axis={self.axis}"] if self.axis != 0 else []
        if self.descending:
            opts.append("descending")
        return self._name + (f"{{{', '.join(opts)}}}" if opts else "")

    @property
    def latex(self):
        """The LaTeX template: ``\\operatorname{sort}`` (a down arrow when descending) of the input."""
        arrow = r"_{{\downarrow}}" if self.descending else ""
        return rf"\operatorname{{{{{self._name}}}}}{arrow}\left({{0}}\right)"

    def _checked(self, x):
        x = as_tensor_variable(x)
        if x.ndim == 0:
            raise ValueError(
                f"{self._name}: cannot sort a 0-d value ({x.type}); sort along an axis of an "
                "array, or use axis=None to sort the flattened values"
            )
        if not 0 <= self.axis < x.ndim:
            raise ValueError(
                f"{self}: axis {self.axis} out of range for {x.type} (expected 0 <= axis < {x.ndim})"
            )
        return x

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0]]

    def vectorize_node(self, node, inputs):
        (x,) = inputs
        axis = self.axis + 1 if is_batched(x, node.inputs[0]) else self.axis
        return [type(self)(axis, self.descending)(x)]


class SortOp(_SortBase):
    """y = x sorted along ``axis`` (ascending, or descending with ``descending=True``).

    With p = argsort(x) along the axis (y = x[p]): x̄ = ȳ[p⁻¹] (the output gradient put back
    where each value came from; p⁻¹ = argsort(p)), ẏ = ẋ[p]. Where x has ties the
    derivative does not exist; the rule then gives the one of the stable order.
    """

    _name = "sort"

    def make_node(self, x):
        x = self._checked(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, xp):
        (x,) = inputs
        y = xp.sort(x, axis=self.axis)
        return xp.flip(y, self.axis).copy() if self.descending else y

    def _permutation(self, x):
        return ArgSortOp(self.axis, self.descending)(x)

    def L_op(self, inputs, outputs, output_grads):
        (x,) = inputs
        if x.dtype in discrete_dtypes:
            return [disconnected_type()]
        inverse = ArgSortOp(self.axis)(self._permutation(x))
        return [take_along_axis(output_grads[0], inverse, self.axis)]

    def R_op(self, inputs, eval_points):
        (ex,) = eval_points
        if ex is None:
            return [None]
        return [take_along_axis(ex, self._permutation(inputs[0]), self.axis)]


class ArgSortOp(_SortBase):
    """i = the int64 indices that sort x along ``axis`` (stably: ties keep their order).

    Integer-valued: no gradient (x̄ disconnected, ẏ = 0).
    """

    _name = "argsort"

    def make_node(self, x):
        x = self._checked(x)
        return Apply(self, [x], [TensorType("int64", x.type.shape)()])

    def perform(self, node, inputs, xp):
        (x,) = inputs
        return xp.asarray(_stable_argsort(xp, x, self.axis, self.descending), dtype="int64")

    def L_op(self, inputs, outputs, output_grads):
        return [disconnected_type()]

    def R_op(self, inputs, eval_points):
        return [None]


def _axis_of(a, axis):
    """``a`` and a non-negative axis; ``axis=None`` flattens ``a`` first."""
    a = as_tensor_variable(a)
    if axis is None:
        return a.flatten(), 0
    axis = int(axis)
    n = a.ndim
    if n and not -n <= axis < n:
        raise ValueError(f"axis {axis} is out of range for {a.type} (expected {-n} <= axis < {n})")
    return a, axis % n if n else axis


def _check_kind(kind, order):
    if kind not in _KINDS:
        raise ValueError(f"sort kind must be one of {_KINDS}, got {kind!r}")
    if order is not None:
        raise NotImplementedError(
            "sort(order=...) sorts structured arrays by field; nbgrad arrays have no "
            "fields: sort the array itself"
        )


def sort(a, axis=-1, kind="quicksort", order=None, descending=False):
    """``a`` sorted along ``axis`` (the flattened ``a`` when None), like ``numpy.sort``.

    Every ``kind`` gives the same values; nbgrad always sorts stably. ``descending=True``
    sorts from the largest value down.

    >>> import numpy as np, nbgrad, nbgrad.tensor as T
    >>> from nbgrad.tensor.sort import sort
    >>> v = T.dvector("v")
    >>> nbgrad.function([v], sort(v))(np.array([3.0, 1.0, 2.0]))
    array([1., 2., 3.])
    """
    _check_kind(kind, order)
    a, axis = _axis_of(a, axis)
    return SortOp(axis, descending)(a)


def argsort(a, axis=-1, kind="quicksort", order=None, descending=False):
    """The int64 indices that sort ``a`` along ``axis`` (of the flattened ``a`` when None).

    Like ``numpy.argsort(..., kind='stable')`` whatever ``kind``: equal elements keep their
    order, in a descending sort too.

    >>> import numpy as np, nbgrad, nbgrad.tensor as T
    >>> from nbgrad.tensor.sort import argsort
    >>> v = T.dvector("v")
    >>> nbgrad.function([v], argsort(v, descending=True))(np.array([1.0, 3.0, 1.0]))
    array([1, 0, 2])
    """
    _check_kind(kind, order)
    a, axis = _axis_of(a, axis)
    return ArgSortOp(axis, descending)(a)


def take_along_axis(a, indices, axis):
    """``a`` gathered along ``axis`` by ``indices`` (of ``a``'s rank), like ``numpy.take_along_axis``.

    Built from integer-array indexing (``a[i0, indices, i2]`` with ``arange`` along the other
    axes), so its gradient is indexing's: the output gradient added back at ``indices``.
    """
    a = as_tensor_variable(a)
    indices = as_tensor_variable(indices)
    if indices.ndim != a.ndim:
        raise ValueError(
            f"take_along_axis: indices of rank {indices.ndim} for an array of rank {a.ndim}; "
            "they must have the same rank"
        )
    index = []
    for d in range(a.ndim):
        if d == axis:
            index.append(indices)
        else:
            pattern = ["x"] * a.ndim
            pattern[d] = 0
            index.append(arange(shape_i(indices, d)).dimshuffle(*pattern))
    return a[tuple(index)]


def topk_and_argtopk(x, kth, axis=-1, sorted=True, idx_dtype="int64"):
    """The ``kth`` largest values of ``x`` along ``axis`` and their indices (``kth < 0``: the
    ``-kth`` smallest), as Theano's ``topk_and_argtopk``.

    The values come largest first (smallest first for ``kth < 0``), whatever ``sorted``;
    equal values keep their order. Their gradient goes back to the selected elements.
    """
    x, axis = _axis_of(x, axis)
    kth = int(kth)
    if kth == 0:
        raise ValueError("topk: kth must not be 0 (positive: the largest, negative: the smallest)")
    order = ArgSortOp(axis, descending=kth > 0)(x)
    cut = [slice(None)] * x.ndim
    cut[axis] = slice(0, abs(kth))
    indices = order[tuple(cut)]
    values = take_along_axis(x, indices, axis)
    if idx_dtype != "int64":
        indices = cast(indices, idx_dtype)
    return values, indices


def topk(x, kth, axis=-1, sorted=True, idx_dtype="int64"):
    """The ``kth`` largest values of ``x`` along ``axis`` (``kth < 0``: the smallest); see
    ``topk_and_argtopk``."""
    return topk_and_argtopk(x, kth, axis, sorted, idx_dtype)[0]


def argtopk(x, kth, axis=-1, sorted=True, idx_dtype="int64"):
    """The indices of the ``kth`` largest values of ``x`` along ``axis``; see ``topk_and_argtopk``."""
    return topk_and_argtopk(x, kth, axis, sorted, idx_dtype)[1]
