"""Reductions and products: ties in max/min, argmax, mean of integers, products' gradients
(at zeros too), logsumexp and logaddexp at infinities."""

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


# ----------------------------------------------------------- logsumexp, logaddexp at ±inf
MODES = ["FAST_RUN", "NONE"]
INF = np.inf


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("v, expected", [
    ([INF, 1.0], INF), ([-INF, -INF], -INF), ([INF, -INF], INF), ([INF, INF], INF),
    ([-INF, 2.0], 2.0), ([0.0, np.log(3.0)], np.log(4.0)), ([np.nan, 1.0], np.nan),
])
def test_logsumexp_of_infinities_is_what_the_sum_gives(mode, v, expected):
    # the shift by the maximum was inf - inf = nan where the maximum is infinite
    x = T.dvector("x")
    f = nbgrad.function([x], T.nnet.logsumexp(x), mode=mode)
    np.testing.assert_allclose(f(np.array(v)), expected)


@pytest.mark.parametrize("mode", MODES)
def test_logsumexp_rows_with_infinities_along_an_axis(mode):
    x = T.dmatrix("x")
    f = nbgrad.function([x], [T.nnet.logsumexp(x, axis=1), T.nnet.logsumexp(x, axis=1, keepdims=True)],
                        mode=mode)
    v = np.array([[INF, 1.0, 0.0], [-INF, -INF, -INF], [1.0, 2.0, 3.0]])
    expected = [INF, -INF, np.log(np.exp(1.0) + np.exp(2.0) + np.exp(3.0))]
    r, rk = f(v)
    np.testing.assert_allclose(r, expected)
    np.testing.assert_allclose(rk, np.reshape(expected, (3, 1)))


@pytest.mark.parametrize("mode", MODES)
def test_logsumexp_gradient_at_infinities(mode):
    x = T.dvector("x")
    g = nbgrad.function([x], T.grad(T.nnet.logsumexp(x), x), mode=mode)
    # the softmax's limit: +inf entries share the weight, the others get none
    np.testing.assert_array_equal(g(np.array([INF, 1.0])), [1.0, 0.0])
    np.testing.assert_array_equal(g(np.array([INF, 2.0, INF])), [0.5, 0.0, 0.5])
    np.testing.assert_array_equal(g(np.array([-INF, 1.0])), [0.0, 1.0])
    # every entry -inf: JAX's exp(x - out) is exp(-inf + inf) = nan; so is ours
    assert np.isnan(g(np.array([-INF, -INF]))).all()
    np.testing.assert_allclose(g(np.array([0.0, np.log(3.0)])), [0.25, 0.75])


def test_logsumexp_gradient_and_tangent_agree_with_finite_differences():
    from nbgrad.gradient import verify_grad

    rng = np.random.default_rng(3)
    for axis in (None, 0, 1, (0, 1)):
        verify_grad(lambda x, axis=axis: T.nnet.logsumexp(x, axis=axis), [rng.standard_normal((3, 4)) * 5])
    x, v = T.dmatrix("x"), T.dmatrix("v")
    f = nbgrad.function([x, v], nbgrad.gradient.Rop(T.nnet.logsumexp(x, axis=1), x, v))
    xv, vv = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    sm = np.exp(xv - np.log(np.exp(xv).sum(axis=1, keepdims=True)))
    np.testing.assert_allclose(f(xv, vv), (sm * vv).sum(axis=1))


@pytest.mark.parametrize("mode", MODES)
def test_logaddexp_and_its_gradient_at_infinities(mode):
    a, b = T.dscalars("a", "b")
    z = T.logaddexp(a, b)
    f = nbgrad.function([a, b], [z, *T.grad(z, [a, b])], mode=mode)
    # value, da, db
    np.testing.assert_array_equal(f(INF, 1.0), [INF, 1.0, 0.0])  # exp(x - z) was nan
    np.testing.assert_array_equal(f(1.0, INF), [INF, 0.0, 1.0])
    np.testing.assert_array_equal(f(INF, INF), [INF, 0.5, 0.5])
    np.testing.assert_array_equal(f(-INF, 1.0), [1.0, 0.0, 1.0])
    value, da, db = f(-INF, -INF)
    assert value == -INF and np.isnan(da) and np.isnan(db)  # as JAX: exp(-inf + inf)
    np.testing.assert_allclose(f(0.0, np.log(3.0)), [np.log(4.0), 0.25, 0.75])


# ------------------------------------------------------------------ prod with zeros
@pytest.mark.parametrize("mode", MODES)
def test_prod_gradient_at_zeros_is_the_product_of_the_others(mode):
    x = T.dvector("x")
    g = nbgrad.function([x], T.grad(T.prod(x), x), mode=mode)
    np.testing.assert_array_equal(g(np.array([0.0, 2.0, 3.0])), [6.0, 0.0, 0.0])  # was [nan, 0, 0]
    np.testing.assert_array_equal(g(np.array([2.0, 0.0, 3.0])), [0.0, 6.0, 0.0])
    np.testing.assert_array_equal(g(np.array([0.0, 0.0, 3.0])), [0.0, 0.0, 0.0])  # was [nan, nan, 0]
    np.testing.assert_allclose(g(np.array([1.5, 2.0, -3.0])), [-6.0, -4.5, 3.0])


@pytest.mark.parametrize("mode", MODES)
def test_prod_gradient_along_an_axis_with_zeros(mode):
    m = T.dmatrix("m")
    g = nbgrad.function([m], T.grad(T.prod(m, axis=1).sum(), m), mode=mode)
    v = np.array([[0.0, 2.0, 3.0], [1.0, 2.0, 3.0], [0.0, 5.0, 0.0], [4.0, -1.0, 0.0]])
    np.testing.assert_array_equal(g(v), [[6.0, 0.0, 0.0], [6.0, 3.0, 2.0], [0.0, 0.0, 0.0],
                                         [0.0, 0.0, -4.0]])
    g0 = nbgrad.function([m], T.grad(T.prod(m, axis=0).sum(), m), mode=mode)
    np.testing.assert_array_equal(g0(v.T), g(v).T)


def test_prod_gradient_and_tangent_at_zeros_agree_with_finite_differences():
    # a product is linear in each entry, so central differences are exact at zeros too
    from nbgrad.gradient import verify_grad

    pts = [np.array([[0.0, 2.0, 3.0], [1.0, 0.0, 0.0], [0.5, -2.0, 4.0]])]
    for axis in (None, 0, 1):
        verify_grad(lambda x, axis=axis: T.prod(x, axis=axis), pts)
    verify_grad(lambda x: T.prod(x, axis=1) ** 2, pts)  # second order through the rule
    x, v = T.dmatrix("x"), T.dmatrix("v")
    f = nbgrad.function([x, v], nbgrad.gradient.Rop(T.prod(x, axis=1), x, v))
    vv = np.random.default_rng(0).standard_normal((3, 3))
    eps = 1e-6
    numeric = (np.prod(pts[0] + eps * vv, axis=1) - np.prod(pts[0] - eps * vv, axis=1)) / (2 * eps)
    np.testing.assert_allclose(f(pts[0], vv), numeric, rtol=1e-7, atol=1e-9)


def test_prod_hessian_at_a_zero():
    x = T.dvector("x")
    h = nbgrad.function([x], nbgrad.gradient.hessian(T.prod(x), x))
    # d2/dxi dxj of x0 x1 x2 at (0, 2, 3): the product of the third entry
    np.testing.assert_array_equal(h(np.array([0.0, 2.0, 3.0])), [[0, 3, 2], [3, 0, 0], [2, 0, 0]])


def test_prod_hessian_with_two_zeros():
    x = T.dvector("x")
    h = nbgrad.function([x], nbgrad.gradient.hessian(T.prod(x), x))
    np.testing.assert_array_equal(h(np.array([0.0, 0.0, 3.0, 2.0])),
                                  [[0, 6, 0, 0], [6, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(h(np.array([0.0, 0.0, 0.0, 2.0])), np.zeros((4, 4)))
