"""Shape operations: shape, reshape, alloc, join/stack, arange, eye, dimshuffle helpers."""

import numpy as np

from nbgrad.config import config
from nbgrad.graph.basic import Apply, Constant, Variable
from nbgrad.graph.op import LengthRule, Op
from nbgrad.graph.nograd import disconnected_type
from nbgrad.scalar.basic import upcast
from nbgrad.tensor.basic import as_tensor_variable, constant
from nbgrad.tensor.batching import any_batched, is_batched, pad_after_batch, shift_axis
from nbgrad.tensor.elemwise import DimShuffle, cast, sum_to
from nbgrad.tensor.type import TensorType, discrete_dtypes

__all__ = [
    "Shape", "ShapeI", "CheckSizes", "Reshape", "Alloc", "Join", "ARange", "Eye", "MakeVector",
    "shape", "shape_i", "reshape", "alloc", "join", "concatenate", "stack", "arange",
    "eye", "identity_like", "zeros", "ones", "full", "flatten", "squeeze", "transpose",
    "dimshuffle", "expand_dims", "make_vector", "broadcast_to",
    "SpecifyShape", "specify_shape", "shape_padleft", "shape_padright", "shape_padaxis",
    "stacklists",
]


def _disconnected(n):
    return [disconnected_type() for _ in range(n)]


class Shape(Op):
    """The shape of ``x`` as an int64 vector."""

    host_output = True  # a host (NumPy) array on every backend: shapes are host ints
    reads_input_values = False

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [TensorType("int64", (x.ndim,))()])

    def perform(self, node, inputs, xp):
        return np.asarray(inputs[0].shape, dtype="int64")

    def make_thunk(self, node, xp):
        asarray = np.asarray
        return lambda x: asarray(x.shape, dtype="int64")

    def infer_shape(self, fgraph, node, input_shapes):
        return [(node.inputs[0].ndim,)]

    def L_op(self, inputs, outputs, output_grads):
        return _disconnected(1)

    def R_op(self, inputs, eval_points):
        return [None]

    def vectorize_node(self, node, inputs):
        """The shape of one batch entry: the batched shape without its first entry."""
        return [shape(inputs[0])[1:]]


_shape = Shape()


def shape(x):
    """The symbolic shape of ``x`` (an int64 vector)."""
    return _shape(x)


class ShapeI(Op):
    """The size of axis ``i`` of ``x`` as an int64 scalar."""

    __props__ = ("i",)
    host_output = True  # a host (NumPy) array on every backend: shapes are host ints
    reads_input_values = False

    def __init__(self, i):
        self.i = int(i)

    def __str__(self):
        return f"Shape_i{{{self.i}}}"

    def make_node(self, x):
        x = as_tensor_variable(x)
        if not 0 <= self.i < x.ndim:
            raise ValueError(f"axis {self.i} out of range for {x} with {x.ndim} dimension(s)")
        return Apply(self, [x], [TensorType("int64", ())()])

    def perform(self, node, inputs, xp):
        return np.asarray(inputs[0].shape[self.i], dtype="int64")

    def make_thunk(self, node, xp):
        i, asarray, int64 = self.i, np.asarray, np.dtype("int64")  # a dtype, not its name: 0.27 against 0.43 µs
        return lambda x: asarray(x.shape[i], dtype=int64)

    def infer_shape(self, fgraph, node, input_shapes):
        return [()]

    def L_op(self, inputs, outputs, output_grads):
        return _disconnected(1)

    def R_op(self, inputs, eval_points):
        return [None]

    def vectorize_node(self, node, inputs):
        """The same axis of one batch entry: axis ``i + 1`` of the batch."""
        return [ShapeI(self.i + 1)(inputs[0])]


class CheckSizes(Op):
    """``x`` itself, once its sizes on ``axes`` are checked to equal the given sizes.

    What an elementwise operation checks when it meets operands of unknown size
    (Theano's broadcasting rule), kept when a rewrite removes the operand that
    carried the other size: ``alloc(1, x.shape[0]) * y`` → ``CheckSizes(y, x.shape[0])``
    computes nothing but still refuses a ``y`` of another length than ``x``.
    Prints as ``x``: the check is bookkeeping, not math.
    """

    __props__ = ("axes",)
    view_map = {0: [0]}
    entries_of_first_input = True

    def __init__(self, axes):
        self.axes = tuple(int(a) for a in axes)

    def __str__(self):
        return f"CheckSizes{{{','.join(map(str, self.axes))}}}"

    def make_node(self, x, *sizes):
        x = as_tensor_variable(x)
        sizes = [as_tensor_variable(s) for s in sizes]
        if len(sizes) != len(self.axes) or any(s.ndim != 0 or s.dtype not in discrete_dtypes for s in sizes):
            raise TypeError(f"{self}: expected {len(self.axes)} integer scalar size(s), got {sizes}")
        shape = list(x.type.shape)
        for a, s in zip(self.axes, sizes):
            if shape[a] is None:
                shape[a] = _const_int(s)
        return Apply(self, [x, *sizes], [TensorType(x.dtype, tuple(shape))()])

    def perform(self, node, inputs, xp):
        return self.make_thunk(node, xp)(*inputs)

    def make_thunk(self, node, xp):
        axes, error = self.axes, self.size_error
        name = node.inputs[0].name

        def check_sizes(x, *sizes):
            shape = x.shape
            for a, s in zip(axes, sizes):
                if shape[a] != s:
                    raise error(name, tuple(shape), a, int(s))
            return x

        check_sizes.__name__ = type(self).__name__
        return check_sizes

    @staticmethod
    def size_error(name, shape, axis, size):
        """The error for a value of ``shape`` whose size on ``axis`` is not ``size``."""
        what = repr(name) if name else "an operand"
        return ValueError(
            f"operands do not have the same size on axis {axis}: {what} has shape {shape}, the "
            f"other operand has size {size} there. Only dimensions of static size 1 broadcast "
            "(declare them with T.row / T.col / T.tensor(shape=...) or dimshuffle), so the sizes "
            "must agree")

    def infer_shape(self, fgraph, node, input_shapes):
        shape = list(input_shapes[0])
        for a, s in zip(self.axes, node.inputs[1:]):
            shape[a] = s
        return [tuple(shape)]

    def dim_rule(self, node, out, d):
        if d in self.axes:
            return ("entry", node.inputs[1 + self.axes.index(d)])
        return ("via", node.inputs[0], d)

    def length_rules(self, node):
        rules = [LengthRule("length", node.inputs[0])]
        if self.axes == (0,):
            rules.append(LengthRule("size", node.inputs[1], when_run=True))
        return rules

    def L_op(self, inputs, outputs, output_grads):
        return [output_grads[0]] + _disconnected(len(inputs) - 1)

    def R_op(self, inputs, eval_points):
        return [None if eval_points[0] is None else self(eval_points[0], *inputs[1:])]

    def vectorize_node(self, node, inputs):
        """The same check of each entry: the axes moved up by one; batched sizes loop.

        (Sizes that differ between entries are no check of the batch's one shape.)
        """
        x, *sizes = inputs
        if any_batched(sizes, node.inputs[1:]):
            return None
        return [type(self)(tuple(shift_axis(a) for a in self.axes))(x, *sizes)]


def shape_i(x, i):
    """Axis ``i``'s size: a constant when the static shape knows it."""
    x = as_tensor_variable(x)
    s = x.type.shape[i]
    if s is not None:
        return constant(np.int64(s))
    return ShapeI(i % x.ndim)(x)


class MakeVector(Op):
    """A vector from scalars of one dtype."""

    __props__ = ("dtype",)

    def __init__(self, dtype="int64"):
        self.dtype = np.dtype(dtype).name

    def make_node(self, *scalars):
        scalars = [as_tensor_variable(s) for s in scalars]
        for s in scalars:
            if s.ndim != 0:
                raise TypeError(f"MakeVector takes scalars, got {s} with {s.ndim} dimension(s)")
        scalars = [cast(s, self.dtype) for s in scalars]
        return Apply(self, scalars, [TensorType(self.dtype, (len(scalars),))()])

    def perform(self, node, inputs, xp):
        return xp.asarray(inputs, dtype=self.dtype) if inputs else xp.zeros((0,), self.dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        return [(len(node.inputs),)]

    def L_op(self, inputs, outputs, output_grads):
        if self.dtype in discrete_dtypes:
            return _disconnected(len(inputs))
        return [output_grads[0][i] for i in range(len(inputs))]

    def R_op(self, inputs, eval_points):
        if all(e is None for e in eval_points):
            return [None]
        # lazy: circle inside tensor/: math.py builds on alloc and shape_i
        from nbgrad.tensor.math import zeros_like

        return [self(*[zeros_like(x) if e is None else e for x, e in zip(inputs, eval_points)])]

    def vectorize_node(self, node, inputs):
        """A matrix with one row per batch entry: the batched scalars stacked along axis 1."""
        size = batch_size(node, inputs)
        columns = [cast(x, self.dtype) for x in inputs]
        columns = [x if is_batched(x, o) else broadcast_batch(x, size) for x, o in zip(columns, node.inputs)]
        return [stack(columns, axis=1)]


def make_vector(*scalars, dtype="int64"):
    return MakeVector(dtype)(*scalars)


def _as_shape_vector(shp):
    """A symbolic int64 shape vector and the static shape it implies."""
    if isinstance(shp, Variable):
        if shp.ndim == 0:
            shp = make_vector(shp)
        elif shp.ndim != 1:
            raise TypeError(f"a shape must be a vector of ints, got {shp} ({shp.type})")
        if shp.dtype not in discrete_dtypes:
            raise TypeError(f"a shape must have an integer dtype, got {shp.dtype}")
        static = _static_entries(shp)
        return shp, static
    if isinstance(shp, (int, np.integer)):
        shp = (shp,)
    entries = [as_tensor_variable(s) if isinstance(s, Variable) else int(s) for s in shp]
    if all(isinstance(e, int) for e in entries):
        return constant(np.asarray(entries, dtype="int64").reshape(len(entries))), tuple(entries)
    static = tuple(e if isinstance(e, int) else _const_int(e) for e in entries)
    return make_vector(*[constant(np.int64(e)) if isinstance(e, int) else e for e in entries]), static


def _const_int(v):
    if isinstance(v, Constant) and v.data.ndim == 0:
        return int(v.data)
    return None


def _static_entries(vec):
    if isinstance(vec, Constant):
        return tuple(int(s) for s in vec.data)
    if vec.owner is not None and isinstance(vec.owner.op, MakeVector):
        return tuple(_const_int(s) for s in vec.owner.inputs)
    return (None,) * (vec.type.shape[0] or 0)


class Reshape(Op):
    """Reshape ``x`` to the shape given by an int vector (one entry may be -1)."""

    __props__ = ("ndim",)

    def __init__(self, ndim):
        self.ndim = int(ndim)
        self.view_map = {0: [0]}

    def make_node(self, x, shp):
        x = as_tensor_variable(x)
        shp, static = _as_shape_vector(shp)
        if shp.type.shape[0] is not None and shp.type.shape[0] != self.ndim:
            raise ValueError(f"Reshape to {self.ndim} dimensions given a shape of length {shp.type.shape[0]}")
        static = tuple(None if (s is None or s < 0) else s for s in static) or (None,) * self.ndim
        if len(static) != self.ndim:
            static = (None,) * self.ndim
        known = [s for s in x.type.shape]
        if None not in known and -1 in _static_entries(shp):
            total = int(np.prod(known))
            rest = [s for s in _static_entries(shp) if s != -1]
            if None not in rest and rest:
                fill = total // max(int(np.prod(rest)), 1)
                static = tuple(fill if s == -1 else s for s in _static_entries(shp))
        elif None not in known and static.count(None) == 1:  # the size the others leave, or a run-time error
            rest = int(np.prod([s for s in static if s is not None]))
            if rest and int(np.prod(known)) % rest == 0:
                static = tuple(int(np.prod(known)) // rest if s is None else s for s in static)
        return Apply(self, [x, shp], [TensorType(x.dtype, static)()])

    def perform(self, node, inputs, xp):
        x, shp = inputs
        try:
            return x.reshape(tuple(int(s) for s in shp))
        except ValueError as exc:
            raise ValueError(f"cannot reshape an array of shape {x.shape} into {tuple(shp)}: {exc}") from None

    def make_thunk(self, node, xp):
        def reshape_thunk(x, shp):
            try:
                return x.reshape(shp.tolist() if hasattr(shp, "tolist") else shp)
            except ValueError:
                raise ValueError(
                    f"cannot reshape an array of shape {x.shape} (size {x.size}) into {tuple(shp)}"
                ) from None

        return reshape_thunk

    def infer_shape(self, fgraph, node, input_shapes):
        # lazy: circle inside tensor/: math.py builds on alloc and shape_i
        from nbgrad.tensor.math import int_div, maximum, prod, switch

        x, shp = node.inputs
        static = _static_entries(shp)
        if len(static) == self.ndim and all(s is not None and s >= 0 for s in static):
            return [tuple(constant(np.int64(s)) for s in static)]
        total = constant(np.int64(1))
        for s in input_shapes[0]:
            total = total * s
        # One entry may be -1: it takes the size the others leave.
        fill = int_div(total, maximum(-prod(shp), 1))
        return [tuple(switch(shp[i] < 0, fill, shp[i]) for i in range(self.ndim))]

    def L_op(self, inputs, outputs, output_grads):
        x, _ = inputs
        if x.dtype in discrete_dtypes:
            return _disconnected(2)
        return [reshape(output_grads[0], shape(x), ndim=x.ndim)] + _disconnected(1)

    def R_op(self, inputs, eval_points):
        if eval_points[0] is None:
            return [None]
        return [self(eval_points[0], inputs[1])]

    def vectorize_node(self, node, inputs):
        """Each entry reshaped: the batch size before the new shape; a batched shape loops."""
        x, shp = inputs
        if is_batched(shp, node.inputs[1]):
            return None
        if isinstance(shp, Constant):
            entries = [int(s) for s in np.asarray(shp.data).reshape(-1)]
        else:
            entries = [shp[i] for i in range(self.ndim)]
        return [reshape(x, (shape_i(x, 0), *entries))]


def reshape(x, newshape, ndim=None):
    """``x`` with a new shape (a tuple of ints/scalars, or an int vector)."""
    x = as_tensor_variable(x)
    if isinstance(newshape, Variable) and newshape.ndim == 1:
        n = newshape.type.shape[0] if ndim is None else ndim
        if n is None:
            raise ValueError("reshape: give ndim= when the shape vector's length is unknown")
        return Reshape(n)(x, newshape)
    if isinstance(newshape, (int, np.integer, Variable)):
        newshape = (newshape,)
    newshape = tuple(newshape)
    return Reshape(len(newshape))(x, newshape)


def flatten(x, ndim=1, outdim=None):
    """Collapse the trailing axes so that the result has ``ndim`` dimensions."""
    x = as_tensor_variable(x)
    ndim = outdim or ndim
    if ndim == x.ndim:
        return x
    lead = [shape_i(x, i) for i in range(ndim - 1)]
    return reshape(x, tuple(lead) + (-1,))


class Alloc(Op):
    """An array of the given shape filled with ``value`` (broadcast)."""

    shape_inputs_from = 1  # the output's sizes are the inputs after the value
    entries_of_first_input = True

    def make_node(self, value, *shape):
        value = as_tensor_variable(value)
        shape = [as_tensor_variable(s) for s in shape]
        for s in shape:
            if s.ndim != 0 or s.dtype not in discrete_dtypes:
                raise TypeError(f"alloc: shape entries must be integer scalars, got {s} ({s.type})")
        if value.ndim > len(shape):
            raise ValueError(f"alloc: value of {value.ndim} dimensions does not fit shape of length {len(shape)}")
        static = tuple(_const_int(s) for s in shape)
        vshape = (None,) * (len(shape) - value.ndim) + value.type.shape
        static = tuple(v if (s is None and v not in (None, 1)) else s for s, v in zip(static, vshape))
        return Apply(self, [value] + shape, [TensorType(value.dtype, static)()])

    def perform(self, node, inputs, xp):
        value, *shape = inputs
        out = xp.empty(tuple(int(s) for s in shape), dtype=node.outputs[0].dtype)
        out[...] = value
        return out

    def make_thunk(self, node, xp):
        dtype = node.outputs[0].dtype
        empty = xp.empty

        def alloc_thunk(value, *shape):
            out = empty(tuple(map(int, shape)), dtype=dtype)
            out[...] = value
            return out

        if xp is not np:
            def device_alloc_thunk(value, *shape):  # the fill value may be host shape arithmetic
                return alloc_thunk(xp.asarray(value) if type(value) is np.ndarray else value, *shape)

            return device_alloc_thunk
        return alloc_thunk

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(node.inputs[1:])]

    def length_rules(self, node):
        return [LengthRule("size", node.inputs[1])] if len(node.inputs) == 2 else []

    def allocates(self, out):
        return True

    def L_op(self, inputs, outputs, output_grads):
        # lazy: circle inside tensor/: math.py builds on alloc and shape_i
        from nbgrad.tensor.math import sum as _sum

        value = inputs[0]
        (gz,) = output_grads
        if value.dtype in discrete_dtypes:
            return _disconnected(len(inputs))
        extra = gz.ndim - value.ndim
        g = _sum(gz, axis=tuple(range(extra))) if extra else gz
        g = sum_to(g, value, runtime=True)
        return [cast(g, value.dtype)] + _disconnected(len(inputs) - 1)

    def R_op(self, inputs, eval_points):
        if eval_points[0] is None:
            return [None]
        return [self(eval_points[0], *inputs[1:])]

    def vectorize_node(self, node, inputs):
        """A batched value fills the batch size followed by the shape; a batched shape loops."""
        value, *shape = inputs
        if any_batched(shape, node.inputs[1:]):
            return None
        value = pad_after_batch(value, len(shape))
        return [alloc(value, shape_i(value, 0), *shape)]


_alloc = Alloc()


def alloc(value, *shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return _alloc(value, *shape)


def broadcast_batch(x, size):
    """``x`` repeated along a new leading (batch) axis of length ``size``."""
    return alloc(x, size, *[shape_i(x, i) for i in range(x.ndim)])


def batch_size(node, inputs):
    """The batch size of the first batched one of ``inputs`` (which stand for ``node.inputs``)."""
    for new, old in zip(inputs, node.inputs):
        if is_batched(new, old):
            return shape_i(new, 0)
    raise ValueError(f"no batched input among the inputs of {node.op}")


def broadcast_to(x, shp):
    return alloc(x, *shp)


def _fill(value, shape, dtype):
    if isinstance(shape, (int, np.integer, Variable)) and not (isinstance(shape, Variable) and shape.ndim == 1):
        shape = (shape,)
    if isinstance(shape, Variable):
        shape = [shape[i] for i in range(shape.type.shape[0])]
    return alloc(constant(np.asarray(value, dtype=dtype or config.floatX)), *shape)


def zeros(shape, dtype=None):
    return _fill(0, shape, dtype)


def ones(shape, dtype=None):
    return _fill(1, shape, dtype)


def full(shape, fill_value, dtype=None):
    return _fill(fill_value, shape, dtype)


class Join(Op):
    """Concatenate tensors along ``axis``; x̄ᵢ are the matching slices of z̄."""

    __props__ = ("axis",)

    def __init__(self, axis):
        self.axis = int(axis)

    def make_node(self, *tensors):
        tensors = [as_tensor_variable(t) for t in tensors]
        if not tensors:
            raise ValueError("concatenate needs at least one tensor")
        ndim = tensors[0].ndim
        if ndim == 0:
            raise ValueError("zero-dimensional tensors cannot be concatenated; use stack")
        if any(t.ndim != ndim for t in tensors):
            raise ValueError(f"concatenate: all tensors need {ndim} dimensions, got {[t.ndim for t in tensors]}")
        if not 0 <= self.axis < ndim:
            raise ValueError(f"concatenate: axis {self.axis} out of range for {ndim} dimension(s)")
        dtype = upcast(*(t.dtype for t in tensors))
        tensors = [cast(t, dtype) for t in tensors]
        shape = []
        for a in range(ndim):
            sizes = [t.type.shape[a] for t in tensors]
            if a == self.axis:
                shape.append(None if None in sizes else sum(sizes))
            else:
                known = {s for s in sizes if s is not None}
                shape.append(known.pop() if len(known) == 1 else None)
        return Apply(self, tensors, [TensorType(dtype, tuple(shape))()])

    def perform(self, node, inputs, xp):
        return xp.concatenate(inputs, axis=self.axis)

    def make_thunk(self, node, xp):
        axis, cat = self.axis, xp.concatenate
        return lambda *xs: cat(xs, axis=axis)

    def infer_shape(self, fgraph, node, input_shapes):
        out = list(input_shapes[0])
        total = input_shapes[0][self.axis]
        for s in input_shapes[1:]:
            total = total + s[self.axis]
        out[self.axis] = total
        return [tuple(out)]

    def L_op(self, inputs, outputs, output_grads):
        (gz,) = output_grads
        grads, start = [], constant(np.int64(0))
        for t in inputs:
            stop = start + shape_i(t, self.axis)
            idx = [slice(None)] * gz.ndim
            idx[self.axis] = slice(start, stop)
            g = gz[tuple(idx)]
            grads.append(g if t.dtype not in discrete_dtypes else _disconnected(1)[0])
            start = stop
        return grads

    def R_op(self, inputs, eval_points):
        if all(e is None for e in eval_points):
            return [None]
        # lazy: circle inside tensor/: math.py builds on alloc and shape_i
        from nbgrad.tensor.math import zeros_like

        return [self(*[zeros_like(x) if e is None else e for x, e in zip(inputs, eval_points)])]

    def vectorize_node(self, node, inputs):
        """Join along the next axis, every input batched (unbatched ones repeated)."""
        size = batch_size(node, inputs)
        tensors = [x if is_batched(x, o) else broadcast_batch(x, size) for x, o in zip(inputs, node.inputs)]
        return [Join(self.axis + 1)(*tensors)]


def join(axis, *tensors):
    """Theano's ``join(axis, *tensors)``."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tensors[0]
    tensors = [as_tensor_variable(t) for t in tensors]
    if len(tensors) == 1:
        return tensors[0]
    return Join(axis % tensors[0].ndim)(*tensors)


def concatenate(tensors, axis=0):
    return join(axis, *tensors)


def stack(*tensors, axis=0):
    """Stack tensors of equal shape along a new ``axis``.

    Takes a list (``stack([a, b], axis=1)``, also ``stack([a, b], 1)``) or, as
    Theano did, the tensors as separate arguments (``stack(a, b, c)``).

    >>> import nbgrad.tensor as T
    >>> T.stack(1.0, 2.0, 3.0).eval()
    array([1., 2., 3.])
    >>> T.stack([[1, 2], [3, 4]], axis=1).eval().tolist()
    [[1, 3], [2, 4]]
    """
    if tensors and isinstance(tensors[0], (list, tuple)):
        if len(tensors) > 2 or len(tensors) == 2 and not isinstance(tensors[1], (int, np.integer)):
            raise TypeError(
                "stack: give the tensors as one list (stack([a, b], axis=0)) or as separate "
                f"arguments (stack(a, b)), not both; got {len(tensors)} arguments starting with a list"
            )
        if len(tensors) == 2:
            axis = int(tensors[1])
        tensors = tensors[0]
    if not tensors:
        raise ValueError("stack needs at least one tensor, e.g. T.stack([a, b]) or T.stack(a, b)")
    tensors = [as_tensor_variable(t) for t in tensors]
    if all(t.ndim == 0 for t in tensors) and axis == 0 and len({t.dtype for t in tensors}) == 1:
        return MakeVector(tensors[0].dtype)(*tensors)
    ndim = tensors[0].ndim
    if any(t.ndim != ndim for t in tensors):
        raise ValueError(
            f"stack: all tensors need the same number of dimensions, got {[t.ndim for t in tensors]}"
        )
    if not -(ndim + 1) <= axis <= ndim:
        raise ValueError(f"stack: axis {axis} is out of range for a result of {ndim + 1} dimension(s)")
    axis = axis % (ndim + 1)
    expanded = [expand_dims(t, axis) for t in tensors]
    return Join(axis)(*expanded)


def expand_dims(x, axis):
    x = as_tensor_variable(x)
    axis = axis % (x.ndim + 1)
    order = list(range(x.ndim))
    order.insert(axis, "x")
    return DimShuffle(x.ndim, order)(x)


def squeeze(x, axis=None):
    """Drop broadcastable axes (all of them when ``axis`` is None)."""
    x = as_tensor_variable(x)
    if axis is None:
        axes = [i for i, b in enumerate(x.broadcastable) if b]
    else:
        axes = [a % x.ndim for a in ((axis,) if isinstance(axis, int) else axis)]
    return DimShuffle(x.ndim, [i for i in range(x.ndim) if i not in axes])(x)


def transpose(x, axes=None):
    x = as_tensor_variable(x)
    if axes is None:
        axes = tuple(reversed(range(x.ndim)))
    if tuple(axes) == tuple(range(x.ndim)):
        return x
    return DimShuffle(x.ndim, tuple(a % x.ndim for a in axes))(x)


def dimshuffle(x, pattern):
    x = as_tensor_variable(x)
    return DimShuffle(x.ndim, pattern)(x)


class ARange(Op):
    """``arange(start, stop, step)`` of the given dtype."""

    __props__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype).name

    def make_node(self, start, stop, step):
        inputs = [as_tensor_variable(v) for v in (start, stop, step)]
        static = None
        if all(isinstance(v, Constant) for v in inputs):
            static = len(np.arange(*(v.data for v in inputs)))
        return Apply(self, inputs, [TensorType(self.dtype, (static,))()])

    def perform(self, node, inputs, xp):
        return xp.arange(*(v.item() for v in inputs), dtype=self.dtype)

    def make_thunk(self, node, xp):
        dtype, arange = self.dtype, xp.arange
        return lambda a, b, c: arange(a.item(), b.item(), c.item(), dtype=dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        # lazy: circle inside tensor/: math.py builds on alloc and shape_i
        from nbgrad.tensor.math import ceil, maximum

        start, stop, step = node.inputs
        n = ceil((stop - start) / step)
        return [(cast(maximum(n, 0), "int64"),)]

    def L_op(self, inputs, outputs, output_grads):
        return _disconnected(3)

    def R_op(self, inputs, eval_points):
        return [None]


def arange(start, stop=None, step=1, dtype=None):
    """Evenly spaced values, as ``numpy.arange``."""
    if stop is None:
        start, stop = 0, start
    vals = [as_tensor_variable(v) for v in (start, stop, step)]
    if dtype is None:
        dtype = "int64" if all(v.dtype in discrete_dtypes for v in vals) else config.floatX
    return ARange(dtype)(*vals)


class Eye(Op):
    """The ``n × m`` identity-like matrix with ones on diagonal ``k``."""

    __props__ = ("dtype",)
    shape_inputs_from = 0  # the output's sizes are inputs 0 and 1

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype).name

    def make_node(self, n, m, k):
        n, m, k = (as_tensor_variable(v) for v in (n, m, k))
        shape = (_const_int(n), _const_int(m))
        return Apply(self, [n, m, k], [TensorType(self.dtype, shape)()])

    def perform(self, node, inputs, xp):
        n, m, k = (int(v) for v in inputs)
        return xp.eye(n, m, k, dtype=self.dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(node.inputs[:2])]

    def L_op(self, inputs, outputs, output_grads):
        return _disconnected(3)

    def R_op(self, inputs, eval_points):
        return [None]


def eye(n, m=None, k=0, dtype=None):
    return Eye(dtype or config.floatX)(n, n if m is None else m, k)


def identity_like(x, dtype=None):
    x = as_tensor_variable(x)
    return eye(shape_i(x, 0), shape_i(x, 1), 0, dtype=dtype or x.dtype)


# --- Theano's shape helpers ------------------------------------------------------
class SpecifyShape(CheckSizes):
    """``x`` itself, checked at run time to have the given sizes on ``axes``.

    The result's type knows the sizes that are constants, so later code can rely
    on them (e.g. to broadcast an axis of size 1). The gradient passes through.
    """

    def __str__(self):
        return f"SpecifyShape{{{','.join(map(str, self.axes))}}}"

    @staticmethod
    def size_error(name, shape, axis, size):
        what = repr(name) if name else "the value"
        return ValueError(
            f"specify_shape: {what} has shape {shape}, but its size on axis {axis} was specified "
            f"as {size}; pass a value of that size or change the shape given to specify_shape")


def specify_shape(x, shape):
    """``x``, with its shape declared: checked at run time, known statically where constant.

    Parameters
    ----------
    x : tensor
    shape : tuple of (int, integer scalar or None), or an integer vector
        One entry per dimension of ``x``; None leaves that size unchecked.

    Examples
    --------
    >>> import numpy as np, nbgrad.tensor as T
    >>> x = T.dmatrix("x")
    >>> y = T.specify_shape(x, (2, None))
    >>> y.type.shape
    (2, None)
    >>> y.eval({x: np.ones((2, 5))}).shape
    (2, 5)
    """
    x = as_tensor_variable(x)
    if isinstance(shape, Variable):
        if shape.ndim != 1 or shape.type.shape[0] is None:
            raise TypeError(
                f"specify_shape: a symbolic shape must be a vector of known length, got {shape} "
                f"({shape.type}); give a tuple instead, e.g. (x.shape[0], 3)"
            )
        shape = [shape[i] for i in range(shape.type.shape[0])]
    elif isinstance(shape, (int, np.integer)):
        shape = (shape,)
    shape = list(shape)
    if len(shape) != x.ndim:
        raise ValueError(
            f"specify_shape: {x} has {x.ndim} dimension(s) but the shape {tuple(shape)!r} has "
            f"{len(shape)} entries; give one entry per dimension (None where the size is free)"
        )
    axes, sizes = [], []
    for a, s in enumerate(shape):
        if s is None:
            continue
        if isinstance(s, (int, np.integer)):
            if s < 0:
                raise ValueError(f"specify_shape: sizes must be >= 0, got {s} for axis {a}")
            s = constant(np.int64(s))
        else:
            s = as_tensor_variable(s)
            if s.ndim != 0 or s.dtype not in discrete_dtypes:
                raise TypeError(f"specify_shape: the size for axis {a} must be an integer scalar, got {s} ({s.type})")
        axes.append(a)
        sizes.append(s)
    if not axes:
        return x
    return SpecifyShape(axes)(x, *sizes)


def shape_padleft(t, n_ones=1):
    """``t`` with ``n_ones`` broadcastable dimensions added on the left.

    >>> import nbgrad.tensor as T
    >>> T.shape_padleft(T.dvector(), 2).type.shape
    (1, 1, None)
    """
    t = as_tensor_variable(t)
    return DimShuffle(t.ndim, ["x"] * _count(n_ones, "shape_padleft") + list(range(t.ndim)))(t)


def shape_padright(t, n_ones=1):
    """``t`` with ``n_ones`` broadcastable dimensions added on the right.

    >>> import nbgrad.tensor as T
    >>> T.shape_padright(T.dvector()).type.shape
    (None, 1)
    """
    t = as_tensor_variable(t)
    return DimShuffle(t.ndim, list(range(t.ndim)) + ["x"] * _count(n_ones, "shape_padright"))(t)


def shape_padaxis(t, axis):
    """``t`` with a broadcastable dimension inserted at ``axis`` (as ``numpy.expand_dims``).

    >>> import nbgrad.tensor as T
    >>> T.shape_padaxis(T.dmatrix(), 1).type.shape
    (None, 1, None)
    >>> T.shape_padaxis(T.dmatrix(), -1).type.shape
    (None, None, 1)
    """
    t = as_tensor_variable(t)
    if not isinstance(axis, (int, np.integer)) or not -(t.ndim + 1) <= axis <= t.ndim:
        raise IndexError(
            f"shape_padaxis: axis {axis!r} is out of range for the {t.ndim + 1} dimension(s) "
            f"of the result; expected an int from {-(t.ndim + 1)} to {t.ndim}"
        )
    return expand_dims(t, int(axis))


def _count(n, what):
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise TypeError(f"{what}: n_ones must be a non-negative int, got {n!r}")
    return int(n)


def stacklists(arg):
    """A tensor from nested lists of tensors (or numbers), stacking level by level.

    >>> import nbgrad.tensor as T
    >>> a, b, c, d = T.dscalars("abcd")
    >>> T.stacklists([[a, b], [c, d]]).eval({a: 1, b: 2, c: 3, d: 4}).tolist()
    [[1.0, 2.0], [3.0, 4.0]]
    """
    if isinstance(arg, (list, tuple)):
        return stack([stacklists(a) for a in arg])
    return as_tensor_variable(arg)
