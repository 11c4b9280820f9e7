"""Broadcasting and its gradient: static size-1 axes, run-time size-1 axes, rank padding."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nbgrad
import nbgrad.tensor as T
from nbgrad.tensor.elemwise import SumToShape
from nbgrad.tensor.type import TensorType


@st.composite
def _broadcast_pair(draw):
    ndim = draw(st.integers(1, 3))
    full = draw(st.lists(st.integers(2, 4), min_size=ndim, max_size=ndim))
    shapes = []
    for _ in range(2):
        rank = draw(st.integers(0, ndim))
        shape = [s if draw(st.booleans()) else 1 for s in full[ndim - rank:]]
        shapes.append(tuple(shape))
    return shapes


@settings(max_examples=25, deadline=None)
@given(_broadcast_pair(), st.booleans())
def test_broadcast_gradient_sums_back_to_input_shape(shapes, static):
    """d/dx Σ w·(x * y) = Σ over broadcast axes of w·y, for any NumPy-broadcastable pair."""
    rng = np.random.default_rng(0)
    a, b = (rng.normal(size=s) for s in shapes)
    x, y = (TensorType("float64", s if static else tuple(1 if d == 1 else None for d in s))(n)
            for s, n in zip(shapes, "xy"))
    out_shape = np.broadcast_shapes(*shapes)
    w = rng.normal(size=out_shape)
    cost = (x * y * w).sum()
    gx, gy = nbgrad.function([x, y], T.grad(cost, [x, y]))(a, b)
    expected_gx = np.broadcast_to(b * w, out_shape)
    expected_gy = np.broadcast_to(a * w, out_shape)

    def sum_to(g, shape):
        g = g.sum(axis=tuple(range(g.ndim - len(shape)))) if g.ndim > len(shape) else g
        return g.sum(axis=tuple(i for i, s in enumerate(shape) if s == 1), keepdims=True)

    np.testing.assert_allclose(gx, sum_to(expected_gx, shapes[0]), rtol=1e-12)
    np.testing.assert_allclose(gy, sum_to(expected_gy, shapes[1]), rtol=1e-12)
    assert gx.shape == shapes[0] and gy.shape == shapes[1]


def test_runtime_size_one_does_not_broadcast_a_dynamic_axis():
    """Theano's rule: a (3, 1) value for a dmatrix is an error against (3, 4), never stretched."""
    x, y = T.dmatrix("x"), T.dmatrix("y")
    f = nbgrad.function([x, y], [x * y, T.grad((x * y).sum(), x)])
    yv = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(f(np.ones((3, 4)), yv)[1], yv)
    with pytest.raises(ValueError) as err:
        f(np.ones((3, 1)), yv)
    msg = str(err.value)
    assert "'x' has shape (3, 1) (TensorType(float64, matrix))" in msg
    assert "'y' has shape (3, 4)" in msg
    assert "axis 1" in msg and "T.col" in msg and "broadcastable" in msg


def test_declared_broadcastable_axis_broadcasts_and_sums_its_gradient():
    x, y = T.dcol("x"), T.dmatrix("y")
    g = T.grad((x * y).sum(), x)
    ops = {type(n.op) for n in nbgrad.graph.traversal.applys_between([x, y], [g])}
    assert SumToShape not in ops
    assert g.type.shape == (None, 1)
    yv = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(nbgrad.function([x, y], g)(np.ones((3, 1)), yv),
                                  yv.sum(axis=1, keepdims=True))


def test_size_one_vector_against_a_longer_one_names_both_operands():
    x, y = T.dvector("x"), T.dvector("y")
    f = nbgrad.function([x, y], T.exp(x) + y)
    with pytest.raises(ValueError, match=r"'x' has shape \(1,\).*'y' has shape \(3,\)"):
        f([1.0], [1.0, 2.0, 3.0])
    np.testing.assert_allclose(f([0.0, 0.0], [1.0, 2.0]), [2.0, 3.0])


def test_static_and_dynamic_sizes_are_checked_against_each_other():
    x, y = T.tensor("float64", shape=(3,), name="x"), T.dvector("y")
    f = nbgrad.function([x, y], x + y)
    with pytest.raises(ValueError, match="axis 0"):
        f(np.ones(3), np.ones(1))


def test_python_scalars_keep_the_variable_dtype():
    x = T.fvector("x")
    assert (x * 2).dtype == "float32"
    assert (x + 1.5).dtype == "float32"
    assert (T.ivector("i") * 2).dtype == "int32"
    assert (T.ivector("i") / 2).dtype == "float64"


def test_incompatible_static_shapes_are_reported():
    x = TensorType("float64", (3,))("x")
    y = TensorType("float64", (4,))("y")
    try:
        x + y
    except ValueError as exc:
        assert "cannot be broadcast" in str(exc) and "axis 0" in str(exc)
    else:
        raise AssertionError("adding shapes (3,) and (4,) did not raise")


def test_sum_to_shape_rejects_a_bad_shape():
    g = T.dmatrix("g")
    try:
        SumToShape()(g, T.as_tensor([1.0, 2.0]))
    except TypeError as exc:
        assert "integer shape vector of length 2" in str(exc)
    else:
        raise AssertionError("a float shape vector was accepted")
def test_gradients_of_dynamic_shapes_need_no_run_time_guards():
    """No SumToShape, no size switch: the gradient of x * y w.r.t. dvector x is just y."""
    x, y = T.dvector("x"), T.dvector("y")
    g = T.grad((x * y).sum(), x)
    f = nbgrad.function([x, y], g)
    # what runs: one size comparison of y against x, no array arithmetic
    assert [type(n.op).__name__ for n in f.maker.fgraph.toposort()] == ["ShapeI", "CheckSizes"]
    assert nbgrad.pp(f.maker.fgraph.outputs[0]) == "y"
    np.testing.assert_array_equal(f([1.0, 2.0], [3.0, 4.0]), [3.0, 4.0])
    with pytest.raises(ValueError, match="'y' has shape \\(2,\\), the other operand has size 3"):
        f([1.0, 2.0, 3.0], [3.0, 4.0])


