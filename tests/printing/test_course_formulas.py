"""The optimized formulas of course derivatives, as course code writes them (T.dvector, no static
shapes): exact text and LaTeX, the way sympy tests its printers.

Each case is what a student sees from ``pp(f.maker.fgraph.outputs[0])`` / ``latex(...)`` (and so
from ``%%symgraph``) for the derivatives of the course material: the polynomial and the logistic
function, Jacobians and Hessians, Rop/Lop and both Hessian-vector products, a mean-squared error,
the logistic-regression cross-entropy, tanh's second derivative and the define-by-run examples
written symbolically. Every case also checks the compiled values against NumPy.
"""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.gradient import hessian, jacobian, zero_grad
from nbgrad.printing import latex

s = T.dscalar("x")
x, y, v = T.dvector("x"), T.dvector("y"), T.dvector("v")
W, V, X = T.dmatrix("W"), T.dmatrix("V"), T.dmatrix("X")
w, t = T.dvector("w"), T.dvector("t")
rng = np.random.default_rng(0)
S, XV, VV, YV = 0.7, rng.normal(size=4), rng.normal(size=4), rng.normal(size=4)
WM, VM, XM, TV = rng.normal(size=(4, 4)), rng.normal(size=(4, 4)), rng.normal(size=(6, 4)), rng.normal(size=6)


def _sig(z):
    return 1 / (1 + np.exp(-z))


def _xent(p, t):
    return -t * T.log(p) - (1 - t) * T.log(1 - p)


CASES = [
    # name, inputs, derivative, values, NumPy reference, text, LaTeX
    ("polynomial", [s], T.grad(s ** 2 + s ** 3 + s ** 4, s), [S], 2 * S + 3 * S ** 2 + 4 * S ** 3,
     "4 * x ** 3 + 3 * x ** 2 + 2 * x", "4 x^{3} + 3 x^{2} + 2 x"),
    ("logistic", [s], T.grad(1 / (1 + T.exp(-s)), s), [S], _sig(S) * (1 - _sig(S)),
     "sigmoid(-x) * sigmoid(x)", r"\sigma(-x) \sigma(x)"),
    ("jacobian_of_square", [x], jacobian(x ** 2, x), [XV], np.diag(2 * XV),
     "diag(2 * x)", r"\operatorname{diag}\left(2 x\right)"),
    ("hessian_of_sum_of_squares", [x], hessian(T.sum(x ** 2), x), [XV], 2 * np.eye(4),
     "2 * I", "2 I"),
    ("hessian_of_x2_exp", [x], hessian(T.sum(x ** 2 * T.exp(x)), x), [XV],
     np.diag(np.exp(XV) * (XV ** 2 + 4 * XV + 2)),
     "diag(exp(x) * (x ** 2 + 4 * x + 2))",
     r"\operatorname{diag}\left(e^{x} \left(x^{2} + 4 x + 2\right)\right)"),
    ("rop", [W, V, x], T.Rop(T.dot(x, W), W, V), [WM, VM, XV], XV @ VM, "x @ V", "x V"),
    ("hv_reverse_over_reverse", [x, v], T.grad(T.sum(T.grad(T.sum(x ** 2), x) * v), x), [XV, VV],
     2 * VV, "2 * v", "2 v"),
    ("hv_rop", [x, v], T.Rop(T.grad(T.sum(x ** 2), x), x, v), [XV, VV], 2 * VV, "2 * v", "2 v"),
    ("mean_squared_error", [X, w, t], T.grad(T.mean((T.dot(X, w) - t) ** 2), w), [XM, XV, TV],
     XM.T @ (2 * (XM @ XV - TV)) / 6,
     "X.T @ (2 * (X @ w - t) / float64(X.shape[0]))",
     r"X^{\top} \frac{2 \left(X w - t\right)}"
     r"{\operatorname{shape}\left(X\right)_{0}}"),
    ("logistic_regression", [X, w, t], T.grad(T.mean(_xent(T.nnet.sigmoid(T.dot(X, w)), t)), w),
     [XM, XV, TV], XM.T @ (_sig(XM @ XV) - TV) / 6,
     "X.T @ ((sigmoid(X @ w) - t) / float64(t.shape[0]))",
     r"X^{\top} \frac{\sigma\left(X w\right) - t}{\operatorname{shape}\left(t\right)_{0}}"),
    ("logistic_regression_negated_mean", [X, w, t],  # the course notebook's spelling
     T.grad(-T.mean(t * T.log(T.nnet.sigmoid(T.dot(X, w))) + (1 - t) * T.log(1 - T.nnet.sigmoid(T.dot(X, w)))), w),
     [XM, XV, TV], XM.T @ (_sig(XM @ XV) - TV) / 6,
     "X.T @ ((sigmoid(X @ w) - t) / float64(t.shape[0]))",
     r"X^{\top} \frac{\sigma\left(X w\right) - t}{\operatorname{shape}\left(t\right)_{0}}"),
    ("jacobian_of_tanh_layer", [W, x], jacobian(T.tanh(T.dot(W, x)), x), [WM, XV],
     (1 - np.tanh(WM @ XV) ** 2)[:, None] * WM,
     "W * (1 - tanh(W @ x) ** 2)[:, None]",
     r"W \odot \left(1 - \tanh{\left(W x\right)}^{2}\right)_{{:},\mathrm{new}}"),
    ("tanh_second_derivative", [s], T.grad(T.grad(T.tanh(s), s), s), [S],
     -2 * np.tanh(S) * (1 - np.tanh(S) ** 2),
     "-(2 * tanh(x) * (1 - tanh(x) ** 2))",
     r"-\left(2 \tanh(x) \left(1 - \tanh(x)^{2}\right)\right)"),
    # the define-by-run examples, written symbolically
    ("twice_dot", [x], T.grad(2 * T.dot(x, x), x), [XV], 4 * XV, "4 * x", "4 x"),
    ("square_sum", [x], T.grad(T.sum(x * x), x), [XV], 2 * XV, "2 * x", "2 x"),
    ("detached_factor", [x], T.grad(T.sum(zero_grad(x * x) * x), x), [XV], XV ** 2, "x ** 2", "x^{2}"),
]


@pytest.mark.parametrize("name, inputs, expr, values, expected, text, tex", CASES, ids=[c[0] for c in CASES])
def test_course_formula(name, inputs, expr, values, expected, text, tex):
    f = nbgrad.function(inputs, expr)
    np.testing.assert_allclose(f(*values), expected, rtol=1e-10, atol=1e-12)
    out = f.maker.fgraph.outputs[0]
    assert nbgrad.pp(out) == text
    assert _unlabelled(latex(out)) == tex


def _unlabelled(tex):
    """The formula without the ``∂cost/∂w =`` label LaTeX adds for an output named by grad."""
    head = r"\frac{\partial \mathrm{cost}}{\partial "
    if tex.startswith(head):
        return tex.split("} = ", 1)[1]
    return tex


def test_formulas_are_short():
    """Each printed formula is within about twice the length of its textbook form."""
    textbook = {"hessian_of_x2_exp": "diag(exp(x) * (x**2 + 4*x + 2))",
                "logistic_regression": "X.T @ (sigmoid(X @ w) - t) / m",
                "mean_squared_error": "2 * X.T @ (X @ w - t) / m"}
    for name, inputs, expr, *_ in CASES:
        if name in textbook:
            printed = nbgrad.pp(nbgrad.function(inputs, expr).maker.fgraph.outputs[0])
            assert len(printed) <= 2 * len(textbook[name]), (name, printed)


def test_gradient_list_of_a_seed_cost():
    f = nbgrad.function([x, y], jacobian(T.sum(x ** 2 + y ** 2), [x, y]))
    assert [nbgrad.pp(o) for o in f.maker.fgraph.outputs] == ["2 * x", "2 * y"]
    gx, gy = f([1.0, 2.0], [1.0, 2.0])
    np.testing.assert_array_equal(gx, [2.0, 4.0])
    np.testing.assert_array_equal(gy, [2.0, 4.0])
    h = nbgrad.function([x, y], hessian(T.sum(x ** 2 + y ** 2), [x, y]))
    assert nbgrad.pp(h.maker.fgraph.outputs[0]) == "2 * I"
    for block in h([1.0, 2.0], [1.0, 2.0]):
        np.testing.assert_array_equal(block, 2 * np.eye(2))


def test_a_length_one_vector_is_not_stretched_in_a_derivative():
    f = nbgrad.function([X, w, t], T.grad(T.mean((T.dot(X, w) - t) ** 2), w))
    with pytest.raises(ValueError, match="same size on axis 0"):
        f(XM, XV, np.ones(1))


@pytest.mark.parametrize("build, text, tex", [
    (lambda x: jacobian(x ** 2, x), "diag(2 * x)", r"\operatorname{diag}\left(2 x\right)"),
    (lambda x: hessian(T.sum(x ** 2), x), "2 * I", "2 I"),
    (lambda x: hessian(T.sum(x ** 2 * T.exp(x)), x), "diag(exp(x) * (x ** 2 + 4 * x + 2))",
     r"\operatorname{diag}\left(e^{x} \left(x^{2} + 4 x + 2\right)\right)"),
])
@pytest.mark.parametrize("shape", [(None,), (5,)], ids=["dvector", "static"])
def test_structured_derivatives_read_the_same_with_static_shapes(build, text, tex, shape):
    xs = T.TensorType("float64", shape)("x")
    f = nbgrad.function([xs], build(xs))
    out = f.maker.fgraph.outputs[0]
    assert nbgrad.pp(out) == text and latex(out) == tex
    np.testing.assert_allclose(f(rng.normal(size=5)).shape, (5, 5))
