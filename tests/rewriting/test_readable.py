"""Optimized formulas read like the math: the printed form of rewritten gradients."""

import numpy as np

import nbgrad
import nbgrad.tensor as T
from nbgrad.printing import latex, pp
from nbgrad.random import RandomStreams


def _formula(inputs, out):
    f = nbgrad.function(inputs, out)
    return f, pp(f.maker.fgraph.outputs[0])


def test_polynomial_gradient_reads_with_constants_first():
    x = T.dvector("x")
    f, text = _formula([x], T.grad(T.sum(x ** 4 + x ** 3 + x ** 2), x))
    assert text == "2 * x + 3 * x ** 2 + 4 * x ** 3"
    assert latex(f.maker.fgraph.outputs[0]) == "2 x + 3 x^{2} + 4 x^{3}"


def test_logistic_gradient_keeps_its_form():
    x = T.dvector("x")
    _, text = _formula([x], T.grad(T.sum(T.nnet.sigmoid(x)), x))
    # 1 - sigmoid(x) rounds to 0 from x = 37 on; sigmoid(-x) is the same number, exact there
    assert text == "sigmoid(x) * sigmoid(-x)"


def test_rop_of_a_gradient_drops_the_seed_and_the_zeroth_power():
    x, v = T.dvector("x"), T.dvector("v")
    f, text = _formula([x, v], T.Rop(T.grad(T.sum(x ** 2), x), x, v))
    # v may be broadcast against x at run time, so x's shape stays (as ones_like)
    assert text == "2 * v"
    np.testing.assert_allclose(f([1.0, 2.0], [3.0, 4.0]), [6.0, 8.0])


def test_mean_of_a_sized_random_draw_divides_by_the_constant_size():
    f, text = _formula([], T.mean(RandomStreams(seed=0).normal((100,))))
    assert text == "sum(normal(0, 1, size=(100,))) / 100"


def test_broadcast_scalar_constants_print_as_numbers():
    x = T.dvector("x")
    _, text = _formula([x], 1 - T.exp(x))
    assert text == "1 - exp(x)"


def test_integer_constant_factors_fold():
    x = T.dvector("x")
    f, text = _formula([x], T.sum(x * 2 * 2 * 2 * 2 * 2))
    assert text == "sum(32 * x)"
    assert float(f([1.0, 2.0])) == 96.0


def test_size_of_a_broadcast_result_is_read_from_its_inputs():
    # (x * y).shape[0] is x's size (x and y must agree: neither broadcasts), and y's
    # when only y can be larger than 1: the rewritten graph reads a size, never x * y
    x, y = T.dvector("x"), T.dvector("y")
    f, text = _formula([x, y], T.shape(x * y)[0])
    assert text == "x.shape[0]"
    assert int(f([1.0, 2.0], [5.0, 6.0])) == 2
    r = T.tensor("float64", shape=(1,), name="r")
    f, text = _formula([r, y], T.shape(r * y)[0])
    assert text == "y.shape[0]"
    assert int(f([1.0], [1.0, 2.0, 3.0])) == 3


def test_folded_constants_keep_the_sign_of_zero():
    # 0.0 * (0.0 * -1.0) is -0.0, so 1 / it is -inf; adding +0.0 turns -0.0 into +0.0
    x = T.dvector("x")
    f = nbgrad.function([x], [x / (0.0 * (0.0 * T.constant(-1.0))), x + 0.0 + 0.0 + 1.0 - 1.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        quotient, total = f(np.array([1.0, -0.0]))
        expected_q = np.array([1.0, -0.0]) / (0.0 * (0.0 * -1.0))
    np.testing.assert_array_equal(quotient, expected_q)
    expected_t = np.array([1.0, -0.0]) + 0.0 + 0.0 + 1.0 - 1.0
    np.testing.assert_array_equal(np.signbit(total), np.signbit(expected_t))


def test_logistic_regression_gradient_cancels_the_reciprocals():
    # d/dz of -(t log σ(z) + (1-t) log(1-σ(z))) is (1/σ - ...)·σ(1-σ): each reciprocal
    # cancels against its factor, leaving (1-t)·σ - t·(1-σ) = σ - t over the mean's n
    w, X, t = T.dvector("w"), T.dmatrix("X"), T.dvector("t")
    p = T.nnet.sigmoid(T.dot(X, w))
    loss = -T.mean(t * T.log(p) + (1 - t) * T.log(1 - p))
    f, text = _formula([w, X, t], T.grad(loss, w))
    assert text == "X.T @ ((sigmoid(X @ w) - t) / float64(t.shape[0]))"
    rng = np.random.default_rng(0)
    Xv, wv, tv = rng.standard_normal((5, 3)), rng.standard_normal(3), rng.integers(0, 2, 5) * 1.0

    def expected(wv):
        return Xv.T @ (1 / (1 + np.exp(-Xv @ wv)) - tv) / len(tv)

    np.testing.assert_allclose(f(wv, Xv, tv), expected(wv), rtol=1e-12)
    # confident predictions: 1 - sigmoid rounds to 0, where the unrewritten gradient is nan
    big = wv * 100
    with np.errstate(all="ignore"):
        assert np.isnan(nbgrad.function([w, X, t], T.grad(loss, w), mode="NONE")(big, Xv, tv)).all()
        # (the shape argument of the sums the mean's gradient broadcasts through is still
        # read off log(1 - sigmoid), which is computed and may warn)
        np.testing.assert_allclose(f(big, Xv, tv), expected(big), rtol=1e-12)


def test_a_loss_is_not_computed_only_for_its_shape():
    # the gradient of a mean needs the loss's length, not its values
    w, X, t = T.dvector("w"), T.dmatrix("X"), T.dvector("t")
    p = T.nnet.sigmoid(T.dot(X, w))
    f = nbgrad.function([w, X, t], T.grad(-T.mean(t * T.log(p) + (1 - t) * T.log(1 - p)), w))
    assert not any("log" in str(n.op) for n in f.maker.fgraph.apply_nodes)
