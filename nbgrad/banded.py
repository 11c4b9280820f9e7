"""Banded batches: Jacobian rows that stay zero off a few diagonals.

The reverse-mode Jacobian vectorizes a vector-Jacobian product over the rows
of an identity matrix (``nbgrad.vectorize.batched_lop``). Slicing, shifting,
scaling and summing such rows keeps them banded, so
``nbgrad.vectorize.vectorize_banded`` carries them as a few length-m diagonal
vectors (``Band``) through the ops' banded rules
(``Op.vectorize_banded_node``, given a ``BandedBatches``) and writes the
dense matrix once, with ``Diagonals``, only where something needs it.
"""

import numpy as np

from nbgrad.graph.basic import Apply, Constant
from nbgrad.graph.nograd import DisconnectedType, disconnected_type
from nbgrad.graph.op import Op
from nbgrad.scalar.basic import upcast
from nbgrad.tensor.basic import as_tensor_variable
from nbgrad.tensor.batching import is_batched
from nbgrad.tensor.elemwise import cast
from nbgrad.tensor.math import zeros_like
from nbgrad.tensor.shape import CheckSizes, ShapeI, _const_int, shape_i
from nbgrad.tensor.type import TensorType

__all__ = ["Band", "BandedBatches", "Diagonals", "DiagonalsOf"]


class Band:
    """A batch ``B`` of shape (n, m) that is zero off a few diagonals.

    ``diags`` maps a row offset ``k`` to a vector ``d`` of length m (indexed by
    column): ``B[j + k, j] = d[j]``, and entries of ``d`` whose row ``j + k``
    falls outside ``[0, n)`` do not matter. The Jacobian's basis is the
    identity ``{0: ones}``; slicing the core axis shifts the offsets, scaling
    by an unbatched vector scales each ``d``, and sums merge the diagonals, so
    a Jacobian assembled from such pieces is a handful of length-m vectors
    written into one matrix at the end.
    """

    def __init__(self, n, diags):
        self.n = n
        self.diags = dict(diags)

    def map(self, fn):
        """The band with ``fn`` applied to each diagonal."""
        return Band(self.n, {k: fn(d) for k, d in self.diags.items()})

    def with_diags(self, diags):
        """A band of the same batch size with the diagonals ``{offset: vector}``."""
        return Band(self.n, diags)

    def add(self, other, sign=1):
        """The band ``self + sign · other`` (diagonals of equal offset summed)."""
        diags = dict(self.diags)
        for k, d in other.diags.items():
            term = d if sign > 0 else -d
            diags[k] = diags[k] + term if k in diags else term
        return Band(self.n, diags)

    def dense(self):
        """The dense (n, m) batch, written by one ``Diagonals``."""
        offsets = tuple(sorted(self.diags))
        return Diagonals(offsets)(self.n, _core_length(self.diags[offsets[0]]), *[self.diags[k] for k in offsets])


def _filled_with(v, value):
    """Whether every entry of ``v`` is statically known to equal ``value``.

    Sees through the forms ``zeros_like``/``ones_like`` and the gradient rules
    build: the ops whose entries are entries of their first input
    (``Op.entries_of_first_input``: fills, broadcasts, slices and size checks)
    of a constant.
    """
    while True:
        if isinstance(v, Constant):
            return bool(np.all(np.asarray(v.data) == value))
        node = v.owner
        if node is None or not node.op.entries_of_first_input:
            return False
        v = node.inputs[0]


def _is_zeros(v):
    """Whether ``v`` is statically known to be all zeros."""
    return _filled_with(v, 0)


def _is_ones(v):
    """Whether ``v`` is statically known to be all ones (the identity's diagonal)."""
    return _filled_with(v, 1)


_MAX_DEPTH = 48


def _slice_signature(start, stop):
    """``len(range(L)[start:stop])`` as a function of ``L``, in a canonical finite form.

    The length is piecewise linear in ``L`` with its last kink at the largest
    ``|start|``/``|stop|``; the values for ``L = 0, 1, ...`` up to the point
    from which they grow linearly determine it, so two slices whose signatures
    are equal have the same length on every vector.
    """
    bound = max(abs(c) for c in (start or 0, stop or 0)) + 3
    vals = [len(range(n)[start:stop]) for n in range(bound + 1)]
    while len(vals) > 3 and vals[-1] - vals[-2] == vals[-2] - vals[-3]:
        vals.pop()
    return tuple(vals)


def _length_keys(v, equal, memo, depth=0, computed=True):
    """Names for the run-time length of vector ``v``; vectors sharing a name have one length.

    Each op says what gives its output's length (``Op.length_rules``): under
    Theano's broadcasting rule an elementwise result has the length of every
    operand whose type does not broadcast (checked when it runs); an ``Alloc``
    has its size argument, an increment its target's length, a slice a known
    function of its base's length. A fact that holds only where the operation
    runs (``LengthRule.when_run``) is used only for a computed vector: pass
    ``computed=False`` for a vector whose value (and so its ancestors') the
    result does not compute.
    """
    key = (id(v), computed)
    if key in memo:
        return memo[key]
    memo[key] = keys = {("var", id(v))}
    static = v.type.shape[0] if v.ndim == 1 else None
    if static is not None:
        keys.add(("n", static))
    if depth > _MAX_DEPTH or v.ndim != 1:
        return keys
    if v in equal:
        keys |= _length_keys(equal[v], equal, memo, depth + 1, computed)
    node = v.owner
    if node is None:
        return keys
    for rule in node.op.length_rules(node):
        if rule.when_run and not computed:
            continue
        if rule.kind == "length":
            keys |= _length_keys(rule.var, equal, memo, depth + 1, computed)
        elif rule.kind == "size":
            keys |= _size_keys(rule.var, equal, memo, depth + 1, computed)
        elif rule.kind == "slice":
            start, stop = rule.bounds
            sig = _slice_signature(start, stop)
            for base in _length_keys(rule.var, equal, memo, depth + 1, computed):
                if base[0] == "n":
                    keys.add(("n", len(range(base[1])[start:stop])))
                elif base[0] != "slice":  # one level of slicing names enough
                    keys.add(("slice", base, sig))
    return keys


def _size_keys(s, equal, memo, depth=0, computed=False):
    """Names for an integer scalar used as a length (see ``_length_keys``).

    A size read off a vector does not compute that vector: ``computed`` only
    passes on through a ``Shape_i`` of a vector the result computes anyway.
    """
    if isinstance(s, Constant):
        return {("n", int(np.asarray(s.data)))}
    keys = {("size", id(s))}
    node = s.owner
    if node is not None and isinstance(node.op, ShapeI) and node.op.i == 0 and node.inputs[0].ndim == 1:
        keys |= _length_keys(node.inputs[0], equal, memo, depth, computed)
    return keys


def _same_length(a, b, equal):
    """Whether vectors ``a`` and ``b`` have the same length at run time, for consistent inputs.

    May rest on elementwise operations the result never runs: pair it with
    ``_checked_length``.
    """
    memo = {}
    return bool(_length_keys(a, equal, memo) & _length_keys(b, equal, memo))


def _same_vector_length(a, b, equal):
    """``a`` and ``b`` are vectors of the same run-time length (static, or shown by the graph)."""
    if a.ndim != 1 or b.ndim != 1:
        return False
    if a.type.shape[0] is not None and b.type.shape[0] is not None:
        return a.type.shape[0] == b.type.shape[0]
    return _same_length(a, b, equal)


def _no_broadcast(x, out):
    """An elementwise operand ``x`` has the length of ``out``: its type does not broadcast.

    Theano's rule: only a static length 1 stretches; an unknown length equals
    the result's, which the operation checks when it runs.
    """
    return x.ndim == 1 and (x.type.shape[0] != 1 or out.type.shape[0] == 1)


def _checked_length(v, like=None, size=None, like_computed=False):
    """``v``, checked when it runs to have the length of vector ``like`` (or ``size``).

    The lengths were shown equal for consistent inputs; the check keeps an
    input of another size an error, never a result of the wrong shape. It is
    left out where it cannot fail: static lengths that agree, or lengths equal
    by operations the result runs anyway (``v`` is computed; so is ``like``
    when ``like_computed``).
    """
    memo = {}
    mine = _length_keys(v, {}, memo)
    if like is not None:
        if v.type.shape[0] is not None and v.type.shape[0] == like.type.shape[0]:
            return v
        if mine & _length_keys(like, {}, memo, computed=like_computed):
            return v
        size = shape_i(like, 0)
    elif mine & _size_keys(size, {}, memo):
        return v
    return CheckSizes((0,))(v, size)


def _core_length(d):
    """A simple scalar for the length of vector ``d``, which the result computes.

    Follows each op's first length rule (``Op.length_rules``) where it names
    a size, or a vector the op reads (increments, checks, fills, elementwise
    operands that do not broadcast), to a static size or the ``Shape_i`` of a
    vector nearer the inputs, so that the rewritten graph does not keep a
    node alive only to read its size.
    """
    for _ in range(_MAX_DEPTH):
        if d.type.shape[0] is not None:
            return d.type.shape[0]
        node = d.owner
        rules = node.op.length_rules(node) if node is not None else ()
        if not rules:
            break
        rule = rules[0]
        if rule.kind == "size":
            return rule.var
        if rule.kind != "length" or not rule.reads:
            break
        d = rule.var
    return shape_i(d, 0)


class BandedBatches:
    """The banded batches of one vectorization, and what the ops' banded rules build them with.

    ``bands[x]`` is the ``Band`` of batched variable ``x`` (``x in bands``
    says whether it has one). ``equal_lengths`` maps an unbatched vector to
    another of the same length at run time, for roots the graph cannot show
    it of (the Jacobian's cotangent has the length of the expression it
    stands for). An op's ``vectorize_banded_node`` reads the bands of its
    inputs and returns ``[bands.output(band)]`` for a result that stays banded.
    """

    def __init__(self, bands=(), equal_lengths=None):
        self._bands = dict(bands)
        self.equal_lengths = dict(equal_lengths or {})

    def __contains__(self, x):
        return x in self._bands

    def __getitem__(self, x):
        return self._bands[x]

    def banded_indices(self, inputs):
        """The positions of the banded ones among ``inputs``."""
        return [i for i, x in enumerate(inputs) if x in self._bands]

    def output(self, band):
        """The dense value of ``band``, recorded as banded for the nodes that use it."""
        full = band.dense()
        self._bands[full] = band
        return full

    def same_length(self, a, b):
        """``a`` and ``b`` are vectors of the same run-time length (static, or shown by the graph)."""
        return _same_vector_length(a, b, self.equal_lengths)

    is_ones = staticmethod(_is_ones)
    is_zeros = staticmethod(_is_zeros)
    no_broadcast = staticmethod(_no_broadcast)

    checked_length = staticmethod(_checked_length)

    def batch_node(self, node, inputs):
        """The op's banded rule for ``node`` when its batched inputs are all banded, else None."""
        banded = self.banded_indices(inputs)
        if not banded:
            return None
        for i, (x, o) in enumerate(zip(inputs, node.inputs)):
            if i not in banded and is_batched(x, o):
                return None  # mixed with a dense batch: no structure to keep
        return node.op.vectorize_banded_node(node, inputs, self)


class Diagonals(Op):
    """The dense ``n × m`` matrix with vectors on a few diagonals: ``out[j + k, j] = d_k[j]``.

    ``offsets`` are the row offsets ``k`` (static); each input vector has length
    ``m`` and its entries outside the matrix are ignored. A repeated offset
    adds up. This is the dense form of a banded batch: one zero fill and one
    strided write per diagonal. Linear: d̄_k[j] = z̄[j + k, j].

    >>> import numpy as np
    >>> Diagonals((0, 1))(3, 3, np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0])).eval()
    array([[1., 0., 0.],
           [4., 2., 0.],
           [0., 5., 3.]])
    """

    __props__ = ("offsets",)
    shape_inputs_from = 0  # the output's sizes are inputs 0 and 1

    def __init__(self, offsets):
        self.offsets = tuple(int(k) for k in offsets)

    def __str__(self):
        return f"Diagonals{{{','.join(map(str, self.offsets))}}}"

    def make_node(self, n, m, *diags):
        n, m = as_tensor_variable(n), as_tensor_variable(m)
        diags = [as_tensor_variable(d) for d in diags]
        if len(diags) != len(self.offsets):
            raise TypeError(f"{self} takes {len(self.offsets)} diagonal(s), got {len(diags)}")
        if any(d.ndim != 1 for d in diags):
            raise TypeError(f"{self}: every diagonal must be a vector, got {[str(d.type) for d in diags]}")
        dtype = upcast(*[d.dtype for d in diags])
        diags = [d if d.dtype == dtype else cast(d, dtype) for d in diags]
        out = TensorType(dtype, (_const_int(n), _const_int(m)))()
        return Apply(self, [n, m, *diags], [out])

    def _writes(self, n, m):
        """(slice of the flat n × m output, slice of the diagonal vector) per offset."""
        out = []
        for k in self.offsets:
            j0, j1 = max(0, -k), min(m, n - k)
            if j1 > j0:
                start = (j0 + k) * m + j0
                out.append((slice(start, start + (j1 - j0 - 1) * (m + 1) + 1, m + 1), slice(j0, j1)))
            else:
                out.append(None)
        return out

    def perform(self, node, inputs, xp):
        return self.make_thunk(node, xp)(*inputs)

    def make_thunk(self, node, xp):
        dtype = node.outputs[0].dtype
        n0, m0 = (_const_int(v) for v in node.inputs[:2])
        fixed = self._writes(n0, m0) if n0 is not None and m0 is not None else None
        name = str(self)
        last = {}  # sizes known only at run time: the writes of the last sizes seen

        def diagonals(n, m, *diags):
            n, m = int(n), int(m)
            writes = fixed
            if writes is None:
                writes = last.get((n, m))
                if writes is None:
                    last.clear()
                    writes = last[n, m] = self._writes(n, m)
            out = xp.zeros((n, m), dtype=dtype)
            flat = out.reshape(-1)
            for w, d in zip(writes, diags):
                if d.shape != (m,):
                    raise ValueError(f"{name}: each diagonal must have length {m}, got shape {d.shape}")
                if w is not None:
                    flat[w[0]] += d[w[1]]
            return out

        return diagonals

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(node.inputs[:2])]

    def L_op(self, inputs, outputs, output_grads):
        (gz,) = output_grads
        parts = DiagonalsOf(self.offsets)(gz)
        parts = parts if isinstance(parts, list) else [parts]
        return [disconnected_type(), disconnected_type()] + list(parts)

    def R_op(self, inputs, eval_points):
        if all(e is None for e in eval_points[2:]):
            return [None]
        evs = [zeros_like(d) if e is None else e for d, e in zip(inputs[2:], eval_points[2:])]
        return [self(inputs[0], inputs[1], *evs)]


class DiagonalsOf(Op):
    """The diagonals of an ``n × m`` matrix as length-``m`` vectors: ``d_k[j] = z[j + k, j]``.

    Entries whose row falls outside the matrix are zero. The transpose of
    ``Diagonals``: z̄[j + k, j] = Σ d̄_k[j].
    """

    __props__ = ("offsets",)

    def __init__(self, offsets):
        self.offsets = tuple(int(k) for k in offsets)

    def __str__(self):
        return f"DiagonalsOf{{{','.join(map(str, self.offsets))}}}"

    def make_node(self, z):
        z = as_tensor_variable(z)
        if z.ndim != 2:
            raise TypeError(f"{self}: expected a matrix, got {z} ({z.type})")
        return Apply(self, [z], [TensorType(z.dtype, (z.type.shape[1],))() for _ in self.offsets])

    def perform(self, node, inputs, xp):
        (z,) = inputs
        n, m = z.shape
        flat = xp.ascontiguousarray(z).reshape(-1)
        outs = []
        for k in self.offsets:
            d = xp.zeros((m,), dtype=z.dtype)
            j0, j1 = max(0, -k), min(m, n - k)
            if j1 > j0:
                start = (j0 + k) * m + j0
                d[j0:j1] = flat[start : start + (j1 - j0 - 1) * (m + 1) + 1 : m + 1]
            outs.append(d)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def infer_shape(self, fgraph, node, input_shapes):
        return [(shape_i(node.inputs[0], 1),) for _ in self.offsets]

    def L_op(self, inputs, outputs, output_grads):
        (z,) = inputs
        gs = [zeros_like(o) if isinstance(g.type, DisconnectedType) else g for g, o in zip(output_grads, outputs)]
        return [Diagonals(self.offsets)(shape_i(z, 0), shape_i(z, 1), *gs)]

    def R_op(self, inputs, eval_points):
        if eval_points[0] is None:
            return [None] * len(self.offsets)
        out = self(eval_points[0])
        return out if isinstance(out, list) else [out]
