"""``Blockwise``: the run-time loop that vectorizes an op without a batching rule."""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.tensor.math import Dot
from nbgrad.tensor.shape import Reshape
from nbgrad.vectorize import Blockwise, vectorize_graph


def _inferred_and_actual(out, inputs, values):
    node = out.owner
    in_shapes = [tuple(T.shape_i(i, k) for k in range(i.ndim)) for i in node.inputs]
    (inferred,) = node.op.infer_shape(None, node, in_shapes)
    f = nbgrad.function(inputs, [T.as_tensor_variable(d) for d in inferred] + [out])
    *dims, value = f(*values)
    return tuple(int(d) for d in dims), value.shape


def test_infer_shape_puts_the_batch_size_before_the_core_shape():
    a, b = T.dtensor3("a"), T.dvector("b")
    out = Blockwise(Dot(), (True, False))(a, b)
    values = [np.ones((5, 3, 4)), np.ones(4)]
    inferred, actual = _inferred_and_actual(out, [a, b], values)
    assert inferred == actual == (5, 3)


def test_infer_shape_reads_an_unbatched_size_input():
    """Reshape's rule reads the target shape's values: the outer (unbatched) input's."""
    x, shp = T.dmatrix("x"), T.lvector("shp")
    out = Blockwise(Reshape(2), (True, False))(x, shp)
    values = [np.arange(12.0).reshape(2, 6), np.array([3, 2])]
    inferred, actual = _inferred_and_actual(out, [x, shp], values)
    assert inferred == actual == (2, 3, 2)


def test_results_of_different_shapes_say_the_op_cannot_be_batched():
    x = T.dvector("x")
    xs = T.dmatrix("xs")
    f = nbgrad.function([xs], vectorize_graph(x[x > 0], {x: xs}))
    assert f(np.array([[1.0, 2.0], [3.0, 4.0]])).shape == (2, 2)
    with pytest.raises(ValueError, match=r"different shapes \[\(1,\), \(2,\)\]; .* cannot be batched"):
        f(np.array([[1.0, -2.0], [3.0, 4.0]]))
