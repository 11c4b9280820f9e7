"""Indexing: slices, integers, new axes, integer arrays and boolean masks.

One op reads (``Subtensor``) and one writes (``IncSubtensor``) through the
same index description, so every kind of NumPy index is differentiable:
x[idx] has x̄ = inc_subtensor(zeros_like(x)[idx], z̄).
"""

import numpy as np

from nbgrad.graph.basic import Apply, Variable
from nbgrad.graph.op import LengthRule, Op
from nbgrad.graph.nograd import disconnected_type
from nbgrad.tensor.basic import as_tensor_variable
from nbgrad.tensor.batching import any_batched, is_batched, pad_after_batch
from nbgrad.tensor.elemwise import sum_to
from nbgrad.tensor.math import clip, int_div, maximum, switch, cast, sum as _sum, zeros_like
from nbgrad.tensor.shape import arange, batch_size, broadcast_batch, shape_i
from nbgrad.tensor.type import TensorType, discrete_dtypes

__all__ = ["Subtensor", "IncSubtensor", "getitem", "set_subtensor", "inc_subtensor", "take"]

_V = "v"  # marks an index component that is a symbolic input


def _component(c):
    """An index component as a static int/None, or a symbolic scalar input."""
    if c is None:
        return None, None
    if isinstance(c, (int, np.integer)) and not isinstance(c, bool):
        return int(c), None
    v = as_tensor_variable(c)
    if v.ndim != 0 or v.dtype not in discrete_dtypes or v.dtype == "bool":
        raise TypeError(f"slice bounds must be integer scalars, got {c} ({v.type})")
    return _V, v


def _parse_index(x, idx):
    """(index description, symbolic inputs) for ``x[idx]``."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    n_ell = sum(1 for i in idx if i is Ellipsis)
    if n_ell > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    consumed = 0
    for i in idx:
        if i is None or i is Ellipsis:
            continue
        if isinstance(i, Variable) and i.dtype == "bool":
            consumed += i.ndim
        elif isinstance(i, np.ndarray) and i.dtype == bool:
            consumed += i.ndim
        else:
            consumed += 1
    if consumed > x.ndim:
        raise IndexError(f"too many indices for {x} with {x.ndim} dimension(s): {idx}")
    if n_ell:
        pos = next(k for k, i in enumerate(idx) if i is Ellipsis)
        idx = idx[:pos] + (slice(None),) * (x.ndim - consumed) + idx[pos + 1:]
    desc, inputs = [], []
    for i in idx:
        if i is None:
            desc.append(("none",))
        elif isinstance(i, slice):
            parts = []
            for c in (i.start, i.stop, i.step):
                s, v = _component(c)
                parts.append(s)
                if v is not None:
                    inputs.append(v)
            desc.append(("slice",) + tuple(parts))
        elif isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_)):
            desc.append(("int", int(i)))
        else:
            v = as_tensor_variable(i)
            if v.dtype == "bool":
                desc.append(("bool",))
            elif v.dtype not in discrete_dtypes:
                raise IndexError(f"index arrays must have an integer or boolean dtype, got {v.dtype}")
            elif v.ndim == 0:
                desc.append(("int", _V))
            else:
                desc.append(("adv",))
            inputs.append(v)
    return tuple(desc), inputs


def _builder(desc):
    """A function mapping the symbolic index inputs' values to a NumPy index tuple.

    The printers walk the same description (``nbgrad.printing.printer.index_parts``);
    this walk stays separate and minimal because it runs on every call.
    """

    def build(vals):
        it = iter(vals)
        out = []
        for d in desc:
            kind = d[0]
            if kind == "none":
                out.append(None)
            elif kind == "slice":
                parts = [int(next(it)) if p == _V else p for p in d[1:]]
                out.append(slice(*parts))
            elif kind == "int":
                out.append(int(next(it)) if d[1] == _V else d[1])
            else:
                out.append(next(it))
        return tuple(out)

    return build


def _out_shape(x, desc, inputs):
    """Static shape of ``x[desc]``: exact for basic indexing, rank-only with arrays."""
    if any(d[0] in ("adv", "bool") for d in desc):
        dummy = np.zeros((1,) * x.ndim)
        it = iter(inputs)
        idx = []
        for d in desc:
            if d[0] == "none":
                idx.append(None)
            elif d[0] == "slice":
                for p in d[1:]:
                    if p == _V:
                        next(it)
                idx.append(slice(None))
            elif d[0] == "int":
                if d[1] == _V:
                    next(it)
                idx.append(0)
            elif d[0] == "adv":
                v = next(it)
                idx.append(np.zeros((1,) * v.ndim, dtype="int64"))
            else:
                v = next(it)
                idx.append(np.ones((1,) * v.ndim, dtype=bool))
        return (None,) * dummy[tuple(idx)].ndim
    shape, axis = [], 0
    for d in desc:
        if d[0] == "none":
            shape.append(1)
            continue
        size = x.type.shape[axis]
        axis += 1
        if d[0] == "int":
            continue
        start, stop, step = d[1:]
        if _V in (start, stop, step) or size is None:
            full = start is None and stop is None and step in (None, 1)
            shape.append(size if full else None)
        else:
            shape.append(len(range(*slice(start, stop, step).indices(size))))
    shape.extend(x.type.shape[axis:])
    return tuple(shape)


def _slice_len(n, start, stop, step):
    """Symbolic ``len(range(*slice(start, stop, step).indices(n)))``."""
    def bound(v, default, lo, hi):
        if v is None:
            return as_tensor_variable(np.int64(default)) if isinstance(default, int) else default
        v = as_tensor_variable(v)
        return clip(switch(v < 0, v + n, v), lo, hi)

    def forward(st):
        a, b = bound(start, 0, 0, n), bound(stop, n, 0, n)
        return maximum(int_div(b - a + st - 1, st), 0)

    def backward(st):
        a, b = bound(start, n - 1, -1, n - 1), bound(stop, -1, -1, n - 1)
        return maximum(int_div(a - b - st - 1, -st), 0)

    if step is None or (isinstance(step, int) and step > 0):
        return forward(as_tensor_variable(np.int64(step or 1)))
    if isinstance(step, int):
        return backward(as_tensor_variable(np.int64(step)))
    step = as_tensor_variable(step)
    return switch(step > 0, forward(step), backward(step))


def _index_shape(desc, inputs, input_shapes):
    """Symbolic shape of ``x[desc]`` (NumPy's rules, advanced indexing included)."""
    xshape = list(input_shapes[0])
    it = iter(zip(inputs[1:], input_shapes[1:]))
    advanced = any(d[0] in ("adv", "bool") for d in desc)
    out, adv_shapes, adv_pos, axis = [], [], [], 0
    for d in desc:
        kind = d[0]
        if kind == "none":
            out.append(1)
        elif kind == "slice":
            parts = [next(it)[0] if p == _V else p for p in d[1:]]
            out.append(_slice_len(xshape[axis], *parts))
            axis += 1
        elif kind == "int":
            if d[1] == _V:
                next(it)
            if advanced:
                adv_shapes.append(())
                adv_pos.append(len(out))
            axis += 1
        elif kind == "adv":
            _, shp = next(it)
            adv_shapes.append(tuple(shp))
            adv_pos.append(len(out))
            axis += 1
        else:
            mask, shp = next(it)
            adv_shapes.append((_sum(cast(mask, "int64")),))
            adv_pos.append(len(out))
            axis += mask.ndim
    out.extend(xshape[axis:])
    if not advanced:
        return tuple(out)
    ndim = max(len(s) for s in adv_shapes)
    bshape = []
    for a in range(ndim):
        sizes = [s[a - ndim + len(s)] for s in adv_shapes if a - ndim + len(s) >= 0]
        size = sizes[0]
        for other in sizes[1:]:
            size = maximum(size, other)
        bshape.append(size)
    adjacent = all(p == adv_pos[0] for p in adv_pos)
    pos = adv_pos[0] if adjacent else 0
    return tuple(out[:pos]) + tuple(bshape) + tuple(out[pos:])


def _desc_str(desc):
    parts = []
    for d in desc:
        if d[0] == "none":
            parts.append("None")
        elif d[0] == "int":
            parts.append("i" if d[1] == _V else str(d[1]))
        elif d[0] == "slice":
            s = ["" if p is None else ("i" if p == _V else str(p)) for p in d[1:]]
            parts.append(":".join(s[:2]) + (":" + s[2] if d[3] is not None else ""))
        else:
            parts.append(d[0])
    return ", ".join(parts)


class Subtensor(Op):
    """``x[idx]`` for any NumPy index; the index's symbolic parts are extra inputs."""

    __props__ = ("idx",)
    entries_of_first_input = True

    def __init__(self, idx):
        self.idx = tuple(idx)
        self._build = _builder(self.idx)
        self.is_basic = not any(d[0] in ("adv", "bool") for d in self.idx)
        if self.is_basic:
            self.view_map = {0: [0]}

    def __str__(self):
        return f"Subtensor{{{_desc_str(self.idx)}}}"

    def make_node(self, x, *index_inputs):
        x = as_tensor_variable(x)
        index_inputs = [as_tensor_variable(i) for i in index_inputs]
        shape = _out_shape(x, self.idx, index_inputs)
        return Apply(self, [x] + index_inputs, [TensorType(x.dtype, shape)()])

    def perform(self, node, inputs, xp):
        x, *vals = inputs
        return xp.asarray(x[self._build(vals)])

    def make_thunk(self, node, xp):
        build, asarray = self._build, xp.asarray
        if not node.inputs[1:] and self.is_basic:
            index = build(())
            if node.outputs[0].ndim == 0:
                return lambda x: asarray(x[index])
            return lambda x: x[index]
        return lambda x, *vals: asarray(x[build(vals)])

    def infer_shape(self, fgraph, node, input_shapes):
        return [_index_shape(self.idx, node.inputs, input_shapes)]

    def length_rules(self, node):
        # x[start:stop] with constant bounds: a known function of x's length
        if node.inputs[1:] or len(self.idx) != 1 or self.idx[0][0] != "slice":
            return []
        _, start, stop, step = self.idx[0]
        return [LengthRule("slice", node.inputs[0], bounds=(start, stop))] if step in (None, 1) else []

    def L_op(self, inputs, outputs, output_grads):
        x, *idx = inputs
        if x.dtype in discrete_dtypes:
            return [disconnected_type() for _ in inputs]
        gx = IncSubtensor(self.idx)(zeros_like(x), output_grads[0], *idx)
        return [gx] + [disconnected_type() for _ in idx]

    def R_op(self, inputs, eval_points):
        if eval_points[0] is None:
            return [None]
        return [self(eval_points[0], *inputs[1:])]

    def vectorize_node(self, node, inputs):
        """The same index after a full slice of the batch axis.

        Where array indices do not sit together NumPy puts their axes first,
        before the batch axis: the batch axis is moved back to the front.
        Batched indices are a gather where every component is an integer array
        (``_batched_gather``); with slices, integers or masks they loop.
        """
        x, *idx = inputs
        if any_batched(idx, node.inputs[1:]):
            return self._batched_gather(node, inputs)
        out = Subtensor((("slice", None, None, None),) + self.idx)(x, *idx)
        front = _front_array_axes(self.idx, idx)
        if front:
            out = out.dimshuffle(front, *range(front), *range(front + 1, out.ndim))
        return [out]

    def _batched_gather(self, node, inputs):
        """``x[i0, i1, ...]`` with batched integer arrays: each batched one gets broadcastable
        axes after its batch axis, and a batched ``x`` one more index, ``arange(B)``, in front."""
        if any(d[0] != "adv" for d in self.idx):
            return None
        x, *idx = inputs
        ndim = max(i.ndim for i in node.inputs[1:])  # of the broadcast index arrays
        idx = [pad_after_batch(i, ndim) if is_batched(i, o) else i for i, o in zip(idx, node.inputs[1:])]
        if is_batched(x, node.inputs[0]):
            idx.insert(0, arange(shape_i(x, 0)).dimshuffle(0, *["x"] * ndim))
        return [Subtensor((("adv",),) * len(idx))(x, *idx)]

    def vectorize_banded_node(self, node, inputs, bands):
        """A static unit-step slice of banded rows of a vector shifts their diagonals."""
        if node.inputs[0].ndim != 1 or bands.banded_indices(inputs) != [0]:
            return None
        start = _unit_slice_start(self.idx, inputs[1:], node.inputs[0].type.shape[0])
        if start is None:
            return None
        band = bands[inputs[0]]
        return [bands.output(band.with_diags({k + start: self(d) for k, d in band.diags.items()}))]


class IncSubtensor(Op):
    """A copy of ``x`` with ``x[idx]`` incremented by (or set to) ``y``.

    Repeated integer-array indices accumulate (``numpy.add.at``).
    """

    __props__ = ("idx", "set_instead_of_inc", "inplace")

    def __init__(self, idx, set_instead_of_inc=False, inplace=False):
        self.idx = tuple(idx)
        self.set_instead_of_inc = bool(set_instead_of_inc)
        self.inplace = bool(inplace)
        self._build = _builder(self.idx)
        self.has_adv = any(d[0] in ("adv", "bool") for d in self.idx)
        if inplace:
            self.destroy_map = {0: [0]}

    def __str__(self):
        kind = "Set" if self.set_instead_of_inc else "Inc"
        extra = ",inplace" if self.inplace else ""
        return f"{kind}Subtensor{{{_desc_str(self.idx)}{extra}}}"

    def make_node(self, x, y, *index_inputs):
        x = as_tensor_variable(x)
        y = as_tensor_variable(y)
        if y.dtype != x.dtype:
            y = cast(y, x.dtype)
        index_inputs = [as_tensor_variable(i) for i in index_inputs]
        target = _out_shape(x, self.idx, index_inputs)
        if y.ndim > len(target):
            raise ValueError(
                f"cannot {'set' if self.set_instead_of_inc else 'increment'} a selection of "
                f"{len(target)} dimension(s) with a value of {y.ndim} dimension(s)"
            )
        return Apply(self, [x, y] + index_inputs, [x.type()])

    def perform(self, node, inputs, xp):
        x, y, *vals = inputs
        out = x if self.inplace else x.copy()
        index = self._build(vals)
        if self.set_instead_of_inc:
            out[index] = y
        elif self.has_adv:
            _add_at(xp)(out, index, y)
        else:
            out[index] += y
        return out

    def allocates(self, out):
        # a copy of x, or (in place) x itself, which buffer reuse gives it only when x is a
        # buffer of the call's that nothing else reads
        return out.ndim > 0

    def make_thunk(self, node, xp):
        if node.inputs[2:] or self.has_adv:
            return super().make_thunk(node, xp)
        # a constant basic index: built once, not at every call
        index, inplace = self._build(()), self.inplace
        if self.set_instead_of_inc:
            def set_thunk(x, y):
                out = x if inplace else x.copy()
                out[index] = y
                return out

            return set_thunk

        def inc_thunk(x, y):
            out = x if inplace else x.copy()
            out[index] += y
            return out

        return inc_thunk

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0]]

    def length_rules(self, node):
        return [LengthRule("length", node.inputs[0])]

    def L_op(self, inputs, outputs, output_grads):
        x, y, *idx = inputs
        (gz,) = output_grads
        if self.set_instead_of_inc:
            gx = IncSubtensor(self.idx, set_instead_of_inc=True)(gz, 0, *idx)
        else:
            gx = gz
        gy = Subtensor(self.idx)(gz, *idx)
        extra = gy.ndim - y.ndim
        if extra:
            gy = _sum(gy, axis=tuple(range(extra)))
        gy = sum_to(gy, y, runtime=True)
        gx = disconnected_type() if x.dtype in discrete_dtypes else gx
        gy = disconnected_type() if y.dtype in discrete_dtypes else gy
        return [gx, gy] + [disconnected_type() for _ in idx]

    def R_op(self, inputs, eval_points):
        ex, ey = eval_points[:2]
        if ex is None and ey is None:
            return [None]
        x, y, *idx = inputs
        ex = zeros_like(x) if ex is None else ex
        ey = zeros_like(y) if ey is None else ey
        return [IncSubtensor(self.idx, self.set_instead_of_inc)(ex, ey, *idx)]

    def vectorize_node(self, node, inputs):
        """The same index after a full slice of the batch axis, into a batched ``x``.

        An unbatched ``x`` is repeated over the batch; a batched ``y`` gets
        broadcastable axes after its batch axis to the rank of ``x[idx]``.
        Batched indices loop, and so do array indices that do not sit together
        (NumPy would put their axes before the batch axis).
        """
        x, y, *idx = inputs
        x0, y0 = node.inputs[:2]
        if any_batched(idx, node.inputs[2:]) or _front_array_axes(self.idx, idx):
            return None
        if not is_batched(x, x0):
            x = broadcast_batch(x, batch_size(node, inputs))
        if is_batched(y, y0):
            target = Subtensor(self.idx).make_node(x0, *node.inputs[2:]).outputs[0]
            y = pad_after_batch(y, target.ndim)
        new_op = IncSubtensor((("slice", None, None, None),) + self.idx, self.set_instead_of_inc)
        return [new_op(x, y, *idx)]

    def vectorize_banded_node(self, node, inputs, bands):
        """Banded rows written into zeros, or added to banded rows, at a static unit-step slice stay banded.

        ``y`` must have the length of the slice (shown by the graph; each
        diagonal is checked when it runs, as NumPy would stretch length 1).
        """
        x, y = inputs[:2]
        x0, y0 = node.inputs[:2]
        if x0.ndim != 1 or 1 not in bands.banded_indices(inputs):
            return None
        start = _unit_slice_start(self.idx, inputs[2:], x0.type.shape[0])
        if start is None or not bands.same_length(y0, Subtensor(self.idx).make_node(x0).outputs[0]):
            return None
        if x in bands and not self.set_instead_of_inc:
            base = dict(bands[x].diags)
            zeros = zeros_like(next(iter(base.values())))
        elif x not in bands and bands.is_zeros(x):
            base, zeros = {}, x
        else:
            return None
        band = bands[y]
        target_like = Subtensor(self.idx)(zeros)
        for k, d in band.diags.items():
            d = bands.checked_length(d, target_like, like_computed=True)
            base[k - start] = self(base.get(k - start, zeros), d)
        return [bands.output(band.with_diags(base))]


def _unit_slice_start(idx, index_inputs, length):
    """The start of a one-axis, unit-step, static slice ``idx`` on a vector of ``length``.

    Returns None when the index is anything else (or needs the unknown length).
    """
    if index_inputs or len(idx) != 1 or idx[0][0] != "slice":
        return None
    _, start, _, step = idx[0]
    if step not in (None, 1):
        return None
    if start is None:
        return 0
    if start >= 0:
        return start if length is None else min(start, length)
    if length is None:
        return None
    return max(length + start, 0)


def _front_array_axes(desc, index_inputs):
    """The number of axes NumPy puts first for the array indices of ``desc``, where they
    do not sit together (a slice or new axis between them and the other array or
    integer components); 0 where they stay in place (or there are none)."""
    it = iter(index_inputs)
    arrays, where = [], []
    for k, d in enumerate(desc):
        if d[0] == "slice":
            for p in d[1:]:
                if p == _V:
                    next(it)
        elif d[0] == "int":
            if d[1] == _V:
                next(it)
            where.append(k)
        elif d[0] in ("adv", "bool"):
            v = next(it)
            arrays.append(v.ndim if d[0] == "adv" else 1)  # a mask gives one axis
            where.append(k)
    if not arrays or where == list(range(where[0], where[-1] + 1)):
        return 0
    return max(arrays)


def _add_at(xp):
    if xp is np:
        return np.add.at
    # lazy: optional dependency cupy, GPU backend only
    import cupyx

    return cupyx.scatter_add


def getitem(x, idx):
    """``x[idx]``: the symbolic form of NumPy indexing."""
    x = as_tensor_variable(x)
    desc, inputs = _parse_index(x, idx)
    if all(d == ("slice", None, None, None) for d in desc) and len(desc) == x.ndim:
        return x
    return Subtensor(desc)(x, *inputs)


def _inc_or_set(x_sub, y, set_):
    node = getattr(x_sub, "owner", None)
    if node is None or not isinstance(node.op, Subtensor):
        what = "set_subtensor" if set_ else "inc_subtensor"
        raise TypeError(
            f"{what} takes an indexed variable such as x[2:5] as its first argument, got {x_sub}"
        )
    x, *idx = node.inputs
    return IncSubtensor(node.op.idx, set_instead_of_inc=set_)(x, y, *idx)


def set_subtensor(x_sub, y):
    """A copy of the indexed tensor with the selection ``x_sub`` set to ``y``.

    >>> import nbgrad.tensor as T
    >>> x = T.dvector("x")
    >>> T.set_subtensor(x[1:], 0.0).eval({x: [1.0, 2.0, 3.0]})
    array([1., 0., 0.])
    """
    return _inc_or_set(x_sub, y, True)


def inc_subtensor(x_sub, y):
    """A copy of the indexed tensor with ``y`` added to the selection ``x_sub``."""
    return _inc_or_set(x_sub, y, False)


def take(x, indices, axis=None):
    x = as_tensor_variable(x)
    if axis is None:
        return getitem(x.flatten(), indices)
    idx = [slice(None)] * x.ndim
    idx[axis] = indices
    return getitem(x, tuple(idx))
