"""Runs of Jacobian rows whose cotangent is zero in some slices, and symbolic zeros for those slices.

The reverse-mode Jacobian of a vector ``g`` vectorizes a vector-Jacobian
product over the rows of the identity (``nbgrad.vectorize.batched_lop``).
Where the product reads its cotangent only through constant slices and
integers (the reverse pass of a vector assembled from pieces, such as the
gradient of a flat parameter vector), row ``i`` of the identity is zero in
every slice that does not contain ``i``. Split into runs of rows that the same
slices see (``row_runs``), each run's product has the other slices as
*symbolic* zeros (``clone_with_zeros``): the terms they feed are left out
instead of computed over the whole batch and added as zeros.

Where the length of the cotangent is known only at run time but every slice
has constant bounds, the runs up to the largest bound ``width`` read the
identity's rows only through those slices, which are the same for every
length of at least ``width``: they take the rows of a constant identity of
size ``width`` (``static_width``), checked at run time by ``LengthAtLeast``
(a shorter vector raises an error naming both sizes).

The product is linear in its cotangent, so every value of its graph that
depends on the cotangent is zero where all the cotangent-dependent inputs of
its node are zero; a sum keeps its other terms. The zeros are exact: no
``0 · inf`` is formed where the value was structurally zero.
"""

import functools

import numpy as np

from nbgrad.graph.basic import Apply
from nbgrad.graph.nograd import disconnected_type
from nbgrad.graph.op import Op
from nbgrad.graph.replace import clone_replace
from nbgrad.graph.traversal import io_toposort
from nbgrad.scalar import basic as ps
from nbgrad.tensor.basic import as_tensor_variable, constant
from nbgrad.tensor.batching import any_batched
from nbgrad.tensor.elemwise import Elemwise
from nbgrad.tensor.math import add, neg, zeros_like
from nbgrad.tensor.shape import CheckSizes
from nbgrad.tensor.subtensor import Subtensor
from nbgrad.tensor.type import discrete_dtypes

__all__ = [
    "row_runs",
    "clone_with_zeros",
    "overlaps",
    "static_width",
    "LengthAtLeast",
    "SliceLength",
    "with_slice_lengths",
]

MAX_RUNS = 8


def _index_range(node, length):
    """``(start, stop)`` of the entries of a vector that ``node`` reads, or None.

    ``node`` must be a ``Subtensor`` with one constant integer or unit-step
    slice; ``stop`` is None for "to the end" of a vector of unknown
    ``length``. Negative bounds need a static ``length``.
    """
    op = node.op
    if not isinstance(op, Subtensor) or node.inputs[1:] or len(op.idx) != 1:
        return None
    desc = op.idx[0]
    if desc[0] == "int":
        i = desc[1]
        if i < 0:
            if length is None:
                return None
            i += length
        return (i, i + 1) if length is None or 0 <= i < length else None
    if desc[0] != "slice" or desc[3] not in (None, 1):
        return None
    start, stop = desc[1], desc[2]
    if length is not None:
        r = range(length)[start:stop]
        return (r.start, max(r.start, r.stop))
    if (start or 0) < 0 or (stop is not None and stop < 0):
        return None
    start = start or 0
    return (start, stop if stop is None else max(start, stop))


def row_runs(outputs, cotangent, length):
    """Runs of the cotangent's entries that ``outputs`` read through the same slices.

    Parameters
    ----------
    outputs : list of Variables
        Functions of the vector ``cotangent`` (linear in it).
    cotangent : Variable
        A vector.
    length : int or None
        Its static length, if known.

    Returns
    -------
    (runs, reads) or None
        ``runs`` is a list of ``(start, stop)`` row ranges (``stop`` None:
        to the end) covering ``[0, length)``; ``reads`` maps each slice of the
        cotangent to the ``(start, stop)`` it reads. None where the cotangent
        is used otherwise than through constant slices and integers, or where
        that gives one run only (or more than ``MAX_RUNS``).
    """
    if any(v is cotangent for v in outputs):
        return None
    reads = {}
    for node in io_toposort([cotangent], list(outputs)):
        if cotangent not in node.inputs:
            continue
        bounds = _index_range(node, length)
        if bounds is None or node.inputs[0] is not cotangent:
            return None
        reads[node.outputs[0]] = bounds
    if not reads:
        return None
    cuts = {0} | {b for bounds in reads.values() for b in bounds if b is not None}
    if length is not None:
        cuts = {c for c in cuts if c <= length} | {length}
    cuts = sorted(cuts)
    runs = list(zip(cuts[:-1], cuts[1:]))
    if length is None:
        runs.append((cuts[-1], None))
    runs = [(a, b) for a, b in runs if b is None or b > a]
    if not 2 <= len(runs) <= MAX_RUNS:
        return None
    return runs, reads


def static_width(reads):
    """The largest bound of the slices ``reads`` (from ``row_runs``), or None if one reads to the end."""
    stops = [stop for _, stop in reads.values()]
    return None if None in stops else max(stops)


class LengthAtLeast(Op):
    """The integer ``n`` itself, once it is checked to be at least ``bound``.

    Guards a graph built for vectors of at least ``bound`` entries (slices with
    constant bounds read as slices of a constant of that size): a shorter
    vector raises an error naming both sizes instead of giving wrong numbers.
    ``what`` names the vector in the error.
    """

    __props__ = ("bound", "what")

    def __init__(self, bound, what):
        self.bound = int(bound)
        self.what = str(what)

    def __str__(self):
        return f"LengthAtLeast{{{self.bound}}}"

    def make_node(self, n):
        n = as_tensor_variable(n)
        if n.dtype not in discrete_dtypes:
            raise TypeError(f"{self}: expected an integer length, got {n} of type {n.type}")
        return Apply(self, [n], [n.type()])

    def perform(self, node, inputs, xp):
        return self.make_thunk(node, xp)(*inputs)

    def make_thunk(self, node, xp):
        bound, what = self.bound, self.what

        def length_at_least(n):
            if np.any(n < bound):
                raise ValueError(
                    f"{what} has length {int(np.min(n))}, but its derivative reads its entries through "
                    f"slices that end at {bound}: a vector of at least {bound} entries was expected"
                )
            return n

        length_at_least.__name__ = type(self).__name__
        return length_at_least

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0]]

    def vectorize_node(self, node, inputs):
        """The same check of every length in the batch."""
        return [self(inputs[0])]

    def L_op(self, inputs, outputs, output_grads):
        return [disconnected_type()]

    def R_op(self, inputs, eval_points):
        return [None]


class SliceLength(CheckSizes):
    """A slice ``v[start:stop]`` with constant bounds, checked at run time to have ``stop - start`` entries.

    Its type knows the length, so the sizes read off it (the reverse pass of a
    reshape of the slice) are constants. A vector shorter than ``stop``
    raises an error naming the slice and both lengths.
    """

    __props__ = ("axes", "what")

    def __init__(self, axes, what="the slice"):
        super().__init__(axes)
        self.what = str(what)

    def __str__(self):
        return f"SliceLength{{{self.what}}}"

    def make_thunk(self, node, xp):
        what = self.what

        axes = self.axes

        def slice_length(x, *sizes):
            for a, size in zip(axes, sizes):
                if x.shape[a] != size:
                    raise ValueError(
                        f"{what} has {x.shape[a]} entries, not {int(size)}: the vector is shorter than "
                        f"the slice's stop. Its derivative is built for vectors that hold the whole slice"
                    )
            return x

        slice_length.__name__ = type(self).__name__
        return slice_length

    def vectorize_node(self, node, inputs):
        """The same check of each entry: the axis moved up by one."""
        x, *sizes = inputs
        if any_batched(sizes, node.inputs[1:]):
            return None
        return [type(self)(tuple(a + 1 for a in self.axes), self.what)(x, *sizes)]


def with_slice_lengths(outputs, vectors):
    """``outputs`` with each constant slice ``v[start:stop]`` of one of ``vectors`` given its static length.

    The slices are checked at run time (``SliceLength``): a vector shorter
    than a slice's stop raises an error instead of giving a shorter slice.
    """
    vectors = [v for v in vectors if v.ndim == 1 and v.type.shape[0] is None]
    replace = {}
    for node in io_toposort(vectors, list(outputs)):
        if not node.inputs or not any(node.inputs[0] is v for v in vectors):
            continue
        bounds = _index_range(node, None)
        out = node.outputs[0]
        if bounds is None or bounds[1] is None or out.ndim != 1:
            continue
        start, stop = bounds
        name = node.inputs[0].name or "the vector"
        check = SliceLength((0,), f"{name}[{start}:{stop}]")
        replace[out] = check(out, constant(np.int64(stop - start)))
    return clone_replace(list(outputs), replace) if replace else list(outputs)


def overlaps(bounds, run):
    """Whether the index ranges ``bounds`` and ``run`` share an index (a stop of None: to the end)."""
    (a0, a1), (r0, r1) = bounds, run
    return (a1 is None or r0 < a1) and (r1 is None or a0 < r1)


def _is_scalar_op(node, scalar_type):
    return isinstance(node.op, Elemwise) and type(node.op.scalar_op) is scalar_type


def _fold_zero_terms(node, inputs, is_zero):
    """The output of a sum or difference ``node`` with its zero terms left out, or None.

    None where the other terms alone would not have the output's type (a
    broadcast the zero term made).
    """
    out = node.outputs[0]
    kept = [x for x, old in zip(inputs, node.inputs) if not is_zero(old)]
    if _is_scalar_op(node, ps.Add):
        result = functools.reduce(add, kept)
    elif _is_scalar_op(node, ps.Sub) and len(kept) == 1:
        result = kept[0] if not is_zero(node.inputs[0]) else neg(kept[0])
    else:
        return None
    if result.dtype != out.dtype or result.type.broadcastable != out.type.broadcastable:
        return None
    return result


def clone_with_zeros(outputs, root, zeros, like):
    """``outputs`` with the variables ``zeros`` (functions of ``root``) taken to be zero.

    ``outputs`` must be linear in ``root``. A node whose ``root``-dependent
    inputs are all zero has zero (floating) outputs and is left out; a sum
    drops its zero terms; elsewhere a zero is written out unbatched, as a
    constant where its shape is static and else shaped like the value it has
    with ``like`` (of ``root``'s type and length) for ``root``.
    """
    depends, zero, equiv = {root}, set(zeros), {}
    shadows = {}

    def written(v):
        if v not in zero:
            return equiv.get(v, v)
        if None not in v.type.shape:
            return constant(np.zeros(v.type.shape, dtype=v.dtype))
        if v not in shadows:
            shadows[v] = zeros_like(clone_replace(v, {root: like}))
        return shadows[v]

    for node in io_toposort([root], list(outputs)):
        dep_inputs = [x for x in node.inputs if x in depends]
        if not dep_inputs:
            continue
        depends.update(node.outputs)
        if all(o in zero for o in node.outputs):
            continue
        floating = all(o.dtype.startswith(("float", "complex")) for o in node.outputs)
        if floating and all(x in zero for x in dep_inputs):
            zero.update(node.outputs)
            continue
        inputs = [equiv.get(x, x) for x in node.inputs]
        folded = _fold_zero_terms(node, inputs, zero.__contains__) if floating else None
        if folded is not None:
            equiv[node.outputs[0]] = folded
            continue
        inputs = [written(x) for x in node.inputs]
        if all(a is b for a, b in zip(inputs, node.inputs)):
            continue
        for o, new in zip(node.outputs, node.op.make_node(*inputs).outputs):
            equiv[o] = new
    return [written(o) for o in outputs]
