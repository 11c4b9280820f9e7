"""Batches whose entries are zero but at one place along some axes: ``OneHot`` and its transpose.

A batch of Jacobian rows taken from the identity and reshaped (the rows of a
weight matrix inside a flat parameter vector) has one nonzero per entry; the
products, sums and matrix products that follow keep it nonzero at one place
along some axes. ``OneHot`` writes such a batch from its nonzero values;
``nbgrad.rewriting.onehot`` moves the operations that keep the structure onto
the values, so that the dense batch is written only where something needs it.
"""

import numpy as np

from nbgrad.graph.basic import Apply
from nbgrad.graph.op import Op
from nbgrad.tensor.basic import as_tensor_variable
from nbgrad.tensor.type import TensorType

__all__ = ["OneHot", "OneHotOf"]


class _Placement(Op):
    """What ``OneHot`` and ``OneHotOf`` share: the core shape, the one-hot axes and their positions.

    ``shape`` is the static shape of one batch entry (None on an axis other than
    ``axes``: the values' size there, known at run time); ``axes`` the (sorted) axes of it
    along which entry ``i`` is nonzero at one place only, ``index[j][i]`` that place
    along ``axes[j]``. The values have the batch axis and the other axes of ``shape``,
    in order.
    """

    __props__ = ("shape", "axes", "index")

    def __init__(self, shape, axes, index):
        self.shape = tuple(None if s is None else int(s) for s in shape)
        self.axes = tuple(int(a) for a in axes)
        self.index = tuple(tuple(int(i) for i in ix) for ix in index)
        if not self.axes or len(self.index) != len(self.axes) or list(self.axes) != sorted(set(self.axes)):
            raise ValueError(f"{type(self).__name__}: axes {axes} must be distinct, sorted and one per index")
        sizes = {len(ix) for ix in self.index}
        if len(sizes) != 1:
            raise ValueError(
                f"{type(self).__name__}: the index vectors have different lengths {sorted(sizes)}"
            )
        for a, ix in zip(self.axes, self.index):
            if (
                not 0 <= a < len(self.shape)
                or self.shape[a] is None
                or any(not 0 <= i < self.shape[a] for i in ix)
            ):
                raise ValueError(
                    f"{type(self).__name__}: an index along axis {a} is outside the shape {self.shape}"
                )

    @property
    def batch(self):
        return len(self.index[0])

    def values_shape(self):
        return (self.batch, *[s for a, s in enumerate(self.shape) if a not in self.axes])

    def _where(self):
        where = [slice(None)] * (1 + len(self.shape))
        where[0] = np.arange(self.batch)
        for a, ix in zip(self.axes, self.index):
            where[1 + a] = np.asarray(ix, dtype=np.int64)
        return tuple(where)

    def full_shape(self, values_shape):
        """The batch's shape ``(n, *shape)``, its unknown sizes taken from ``values_shape``."""
        rest = iter(values_shape[1:])
        return (self.batch, *[next(rest) if a not in self.axes else s for a, s in enumerate(self.shape)])

    def _desc(self):
        return f"axes={','.join(map(str, self.axes))}"


class OneHot(_Placement):
    """The batch ``out`` of shape ``(n, *shape)`` that is ``values`` at one place along ``axes``, else zero.

    ``out[i][..., index[j][i] (axis axes[j]), ...] = values[i, ...]``. Linear:
    v̄ = ``OneHotOf`` (the values of z̄ at those places).

    >>> import numpy as np
    >>> OneHot((3,), (0,), ((2, 0),))(np.array([5.0, 7.0])).eval()
    array([[0., 0., 5.],
           [7., 0., 0.]])
    """

    def __str__(self):
        return f"OneHot{{{self._desc()}}}"

    def make_node(self, values):
        values = as_tensor_variable(values)
        want = self.values_shape()
        if values.ndim != len(want) or any(s is not None and s != w for s, w in zip(values.type.shape, want)):
            raise TypeError(f"{self}: the values must have shape {want}, got {values} ({values.type})")
        return Apply(self, [values], [TensorType(values.dtype, (self.batch, *self.shape))()])

    def perform(self, node, inputs, xp):
        return self.make_thunk(node, xp)(*inputs)

    def make_thunk(self, node, xp):
        where, dtype = self._where(), node.outputs[0].dtype
        full = (self.batch, *self.shape) if None not in self.shape else None
        full_shape = self.full_shape

        def one_hot(values):
            out = xp.zeros(full or full_shape(values.shape), dtype=dtype)
            out[where] = values
            return out

        return one_hot

    def infer_shape(self, fgraph, node, input_shapes):
        return [self.full_shape(input_shapes[0])]

    def L_op(self, inputs, outputs, output_grads):
        return [OneHotOf(self.shape, self.axes, self.index)(output_grads[0])]

    def R_op(self, inputs, eval_points):
        return [None if eval_points[0] is None else self(eval_points[0])]


class OneHotOf(_Placement):
    """The values of ``z`` (shape ``(n, *shape)``) at the places ``OneHot`` writes: its transpose."""

    def __str__(self):
        return f"OneHotOf{{{self._desc()}}}"

    def make_node(self, z):
        z = as_tensor_variable(z)
        if z.ndim != 1 + len(self.shape):
            raise TypeError(
                f"{self}: expected a batch of shape {(self.batch, *self.shape)}, got {z} ({z.type})"
            )
        return Apply(self, [z], [TensorType(z.dtype, self.values_shape())()])

    def perform(self, node, inputs, xp):
        return xp.asarray(inputs[0][self._where()])

    def infer_shape(self, fgraph, node, input_shapes):
        rest = [a for a in range(len(self.shape)) if a not in self.axes]
        return [(self.batch, *[input_shapes[0][1 + a] for a in rest])]

    def L_op(self, inputs, outputs, output_grads):
        return [OneHot(self.shape, self.axes, self.index)(output_grads[0])]

    def R_op(self, inputs, eval_points):
        return [None if eval_points[0] is None else self(eval_points[0])]
