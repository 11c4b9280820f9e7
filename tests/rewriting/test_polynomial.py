"""collect_like_terms: sums of products read as polynomials (nbgrad/rewriting/polynomial.py)."""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.printing import pp
from nbgrad.rewriting import Mode
from tests.rewriting.helpers import rewritten, same_values, values_agree

MODE = Mode(excluding=["fusion", "inplace"])


def _collected(inputs, out):
    fg, applied = rewritten(inputs, out, MODE)
    return pp(fg.outputs[0]), "collect_like_terms" in applied


def test_like_terms_collect_and_a_shared_factor_comes_out():
    x = T.dvector("x")
    e = T.exp(x)
    text, fired = _collected([x], 2 * x * e + e * (x ** 2 + 2 * x) + 2 * e)
    assert fired and text == "exp(x) * (x ** 2 + 4 * x + 2)"


def test_a_polynomial_in_the_variable_stays_expanded():
    s = T.dscalar("s")
    text, fired = _collected([s], s ** 2 * 4 * s + s * 3 * s + s + s)
    assert fired and text == "4 * s ** 3 + 3 * s ** 2 + 2 * s"


def test_terms_that_cancel_leave_the_difference():
    t, s = T.dvector("t"), T.nnet.sigmoid(T.dvector("z"))
    text, fired = _collected([t, s.owner.inputs[0]], (1 - t) * s - t * (1 - s))
    assert fired and text == "sigmoid(z) - t"


def test_a_common_reciprocal_reads_as_a_division():
    a, b, n = T.dvector("a"), T.dvector("b"), T.dscalar("n")
    text, fired = _collected([a, b, n], (1 / n) * (2 * (a - b)))
    assert fired and text == "2 * (a - b) / n"


def test_products_without_like_terms_are_not_expanded():
    x, y, z = T.dvector("x"), T.dvector("y"), T.dvector("z")
    assert _collected([x, y, z], x * y + x * z) == ("x * y + x * z", False)
    assert _collected([x, y, z], -(x * y) + z * (1 - y))[1] is False


def test_nothing_to_gain_is_left_alone():
    x, y, z = T.dvector("x"), T.dvector("y"), T.dvector("z")
    for out in (x - y, 2 * x + 3 * y * z, x * x + y):
        _, fired = _collected([x, y, z], out)
        assert not fired


def test_a_cancelled_term_whose_nan_would_vanish_is_kept():
    # (y / s) * s + y * (1 - s) would lose s: a nan in s must still show
    x, y = T.dvector("x"), T.dvector("y")
    s = T.sin(x)
    out = y * s + y * (1 - s)
    _, fired = _collected([x, y], out)
    assert not fired
    assert np.isnan(nbgrad.function([x, y], out)(np.array([np.inf]), np.array([1.0]))).all()


def test_a_constant_that_cancels_keeps_the_sign_of_zero():
    x = T.dvector("x")
    f = nbgrad.function([x], x + 1.0 - 1.0)
    assert np.signbit(f(np.array([-0.0]))[0]) == np.signbit(-0.0 + 1.0 - 1.0)


def test_sigmoid_and_its_complement_sum_to_one():
    # the chain rule through the logistic loss: -y·σ(-z) - y·σ(z) + σ(z) is σ(z) - y
    y, z = T.dvector("y"), T.dvector("z")
    s = T.nnet.sigmoid(z)
    out = -y * T.nnet.sigmoid(-z) - y * s + s
    text, fired = _collected([y, z], out)
    assert fired and text == "sigmoid(z) - y"
    rng = np.random.default_rng(3)
    zv = np.concatenate([rng.normal(size=5) * 30, [np.nan, np.inf, -np.inf]])
    yv = rng.uniform(size=zv.size)
    with np.errstate(all="ignore"):
        assert values_agree([y, z], out, [yv, zv], MODE)


def test_the_complement_is_not_used_where_the_sigmoid_would_vanish():
    # y·σ(z) + y·σ(-z) is y, but then a nan in z would no longer reach the result
    y, z = T.dvector("y"), T.dvector("z")
    out = y * T.nnet.sigmoid(z) + y * T.nnet.sigmoid(-z)
    _, fired = _collected([y, z], out)
    assert not fired
    assert np.isnan(nbgrad.function([y, z], out)(np.array([1.0]), np.array([np.nan]))).all()


def test_the_tutorial_logistic_gradient_computes_one_sigmoid():
    x, y, w = T.dmatrix("x"), T.dvector("y"), T.dvector("w")
    p = 1 / (1 + T.exp(-T.dot(x, w)))
    cost = (-y * T.log(p) - (1 - y) * T.log(1 - p)).mean()
    f = nbgrad.function([x, y, w], T.grad(cost, w))
    # Composite{(sigmoid(i0) - i1) / i2}: the fused kernels name their scalar ops
    assert sum(str(getattr(n.op, "scalar_op", "")).count("sigmoid") for n in f.maker.fgraph.apply_nodes) == 1
    rng = np.random.default_rng(0)
    xv, yv, wv = rng.normal(size=(6, 3)), rng.integers(0, 2, 6).astype(float), rng.normal(size=3)
    want = xv.T @ (1 / (1 + np.exp(-xv @ wv)) - yv) / 6
    np.testing.assert_allclose(f(xv, yv, wv), want, rtol=1e-12)


def _random_poly(rng, atoms, depth):
    if depth == 0 or rng.random() < 0.25:
        k = rng.integers(len(atoms) + 1)
        return atoms[k] if k < len(atoms) else T.constant(float(rng.integers(-3, 4)))
    a, b = _random_poly(rng, atoms, depth - 1), _random_poly(rng, atoms, depth - 1)
    op = rng.integers(4)
    return a + b if op == 0 else a - b if op == 1 else a * b if op == 2 else a ** 2


@pytest.mark.parametrize("seed", range(40))
def test_random_polynomials_agree_with_the_unrewritten_graph(seed):
    rng = np.random.default_rng(seed)
    x, y = T.dvector("x"), T.dvector("y")
    atoms = [x, y, T.exp(x), T.sin(y)]
    out = _random_poly(rng, atoms, 4)
    if not hasattr(out, "owner") or out.owner is None or out.ndim == 0:
        return
    finite = [rng.uniform(-2, 2, 5), rng.uniform(-2, 2, 5)]
    assert values_agree([x, y], out, finite)
    special = [np.array([np.nan, 1.0, -0.0, 0.0, 2.0]), np.array([1.0, np.nan, 0.0, -0.0, np.inf])]
    on = nbgrad.function([x, y], out)(*special)
    off = nbgrad.function([x, y], out, mode=Mode("NONE"))(*special)
    # a nan of the original stays a nan, except where inf·0 or inf − inf cancelled
    nan_in = np.isnan(special[0]) | np.isnan(special[1])
    assert same_values(on[nan_in], off[nan_in])


def test_a_term_used_twice_by_one_sum_is_collected():
    x = T.dvector("x")
    a = 2 * x
    assert _collected([x], a + a) == ("4 * x", True)


def test_factor_dot_sum_takes_one_product():
    X, u, v = T.dmatrix("X"), T.dvector("u"), T.dvector("v")
    for out, text in ((T.dot(X.T, u) + T.dot(X.T, v), "X.T @ (u + v)"),
                      (T.dot(u, X) - T.dot(v, X), "(u - v) @ X")):
        fg, applied = rewritten([X, u, v], out, MODE)
        assert "factor_dot_sum" in applied and pp(fg.outputs[0]) == text
        rng = np.random.default_rng(0)
        assert values_agree([X, u, v], out, [rng.normal(size=(3, 3)), rng.normal(size=3), rng.normal(size=3)])
    # different matrices: nothing to share
    fg, applied = rewritten([X, u, v], T.dot(X, u) + T.dot(X.T, v), MODE)
    assert "factor_dot_sum" not in applied
