"""Reductions and products: ties in max/min, argmax, mean of integers, products' gradients."""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.gradient import DisconnectedInputError


@pytest.mark.parametrize("reduce_", [T.max, T.min])
def test_max_min_ties_share_the_gradient(reduce_):
    x = T.dmatrix("x")
    g = nbgrad.function([x], T.grad(reduce_(x, axis=1).sum(), x))
    v = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [5.0, -1.0, 0.0]])
    got = g(v)
    extreme = (v == (v.max(axis=1, keepdims=True) if reduce_ is T.max else v.min(axis=1, keepdims=True)))
    expected = extreme / extreme.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(got, expected)
    np.testing.assert_allclose(got.sum(axis=1), 1.0)


def test_argmax_is_not_differentiable():
    x = T.dvector("x")
    cost = T.cast(T.argmax(x), "float64") * T.sum(x)
    # Only the sum carries a gradient; argmax contributes none and raises nothing.
    g = nbgrad.function([x], T.grad(cost, x))(np.array([1.0, 5.0, 2.0]))
    np.testing.assert_allclose(g, [1.0, 1.0, 1.0])
    with pytest.raises(DisconnectedInputError):
        T.grad(T.cast(T.argmax(x), "float64"), x)


def test_reductions_with_keepdims_and_negative_axes():
    x = T.dtensor3("x")
    v = np.random.default_rng(0).normal(size=(2, 3, 4))
    outs = [T.sum(x, axis=-1, keepdims=True), T.mean(x, axis=(0, -1)), x.var(axis=1), T.std(x, axis=0, ddof=1),
            T.prod(x, axis=-2, keepdims=True), x.argmin(axis=-1)]
    got = nbgrad.function([x], outs)(v)
    expected = [v.sum(axis=-1, keepdims=True), v.mean(axis=(0, -1)), v.var(axis=1), v.std(axis=0, ddof=1),
                v.prod(axis=-2, keepdims=True), v.argmin(axis=-1)]
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-12)
        assert a.shape == b.shape


def test_bad_axis_is_reported():
    with pytest.raises(ValueError, match="axis 2 is out of bounds"):
        T.sum(T.dmatrix("x"), axis=2)


def test_mean_of_integers_is_float64():
    i = T.ivector("i")
    assert T.mean(i).dtype == "float64"
    assert T.mean(i).eval({i: np.array([1, 2], dtype="int32")}) == 1.5


@pytest.mark.parametrize("a_shape, b_shape, axes", [((2, 3, 4), (4, 3), [[1, 2], [1, 0]]), ((3, 4), (4, 5), 1)])
def test_tensordot_gradient(a_shape, b_shape, axes):
    rng = np.random.default_rng(1)
    av, bv = rng.normal(size=a_shape), rng.normal(size=b_shape)
    a, b = T.tensor("float64", (None,) * len(a_shape), "a"), T.tensor("float64", (None,) * len(b_shape), "b")
    out = T.tensordot(a, b, axes)
    w = rng.normal(size=np.tensordot(av, bv, axes).shape)
    ga, gb = nbgrad.function([a, b], T.grad((out * w).sum(), [a, b]))(av, bv)
    # Exact gradients of the bilinear form: Σ w·tensordot(a, b) is linear in each factor.
    basis_a = np.eye(av.size).reshape((av.size,) + a_shape)
    ga_ref = np.array([(np.tensordot(e, bv, axes) * w).sum() for e in basis_a]).reshape(a_shape)
    basis_b = np.eye(bv.size).reshape((bv.size,) + b_shape)
    gb_ref = np.array([(np.tensordot(av, e, axes) * w).sum() for e in basis_b]).reshape(b_shape)
    np.testing.assert_allclose(ga, ga_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gb, gb_ref, rtol=1e-10, atol=1e-12)


def test_dot_rejects_misaligned_static_shapes():
    a = T.tensor("float64", (2, 3), "a")
    b = T.tensor("float64", (4, 5), "b")
    with pytest.raises(ValueError, match="not aligned"):
        T.dot(a, b)


def test_matmul_rejects_scalars():
    with pytest.raises(ValueError, match="must not be scalars"):
        T.dscalar("s") @ T.dmatrix("m")


def test_iround_gives_int64_half_to_even():
    x = T.dvector("x")
    out = T.iround(x)
    assert out.dtype == "int64"
    np.testing.assert_array_equal(out.eval({x: [0.5, 1.5, 2.5, -0.5]}), [0, 2, 2, 0])
