import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.printing import latex, latex_name
from nbgrad.scalar.composite import Composite
from nbgrad.tensor.elemwise import Elemwise

x, y = T.dscalars("x", "y")
alpha = T.dscalar("alpha")
x1 = T.dscalar("x_1")
v, w = T.dvectors("v", "w")
A, B = T.dmatrices("A", "B")
W = T.dmatrix("W_hidden")


@pytest.mark.parametrize(
    "name, expected",
    [
        ("x", "x"),
        ("x_1", "x_{1}"),
        ("x2", "x_{2}"),
        ("W_hidden", "W_{hidden}"),
        ("alpha", r"\alpha"),
        ("lambda_", r"\lambda"),
        ("sigma_out", r"\sigma_{out}"),
        ("x_i_j", "x_{i,j}"),
        ("loss", r"\mathrm{loss}"),
        ("a b", r"\text{a b}"),
        ("x{1}", r"\text{x\{1\}}"),
        ("(dy/dx)", r"\frac{\partial y}{\partial x}"),
        ("(dcost/dW_hidden)", r"\frac{\partial \mathrm{cost}}{\partial W_{hidden}}"),
        ("(d(dy/dx)/dx)", r"\frac{\partial^{2} y}{\partial x^{2}}"),
        ("(d(dy/dx)/dz)", r"\frac{\partial^{2} y}{\partial x \partial z}"),
    ],
)
def test_latex_name(name, expected):
    assert latex_name(name) == expected


@pytest.mark.parametrize(
    "expr, expected",
    [
        (lambda: x ** 2 + 3 * x, "x^{2} + 3 x"),
        (lambda: (x + 1) / T.sqrt(y), r"\frac{x + 1}{\sqrt{y}}"),
        (lambda: (x + 1) * y, r"\left(x + 1\right) y"),
        (lambda: x * 2, "2 x"),
        (lambda: x * -y, r"x \left(-y\right)"),
        (lambda: x + -y, "x - y"),
        (lambda: x - (y - 1), r"x - \left(y - 1\right)"),
        (lambda: x - -y, r"x - \left(-y\right)"),
        (lambda: -(x ** 2), "-x^{2}"),
        (lambda: (-x) ** 2, r"\left(-x\right)^{2}"),
        (lambda: (x ** y) ** 2, r"\left(x^{y}\right)^{2}"),
        (lambda: x ** (y ** 2), "x^{y^{2}}"),
        (lambda: T.exp(x) ** 2, r"\left(e^{x}\right)^{2}"),
        (lambda: T.exp(-x / 2), r"e^{\frac{-x}{2}}"),
        (lambda: (x / y) ** 2, r"\left(\frac{x}{y}\right)^{2}"),
        (lambda: T.sqr(x + 1), r"\left(x + 1\right)^{2}"),
        (lambda: 1 / (1 + T.exp(-x)), r"\frac{1}{1 + e^{-x}}"),
        (lambda: T.sigmoid(x) * T.sigmoid(-x), r"\sigma(x) \sigma(-x)"),
        (lambda: T.log(x) * alpha, r"\log(x) \alpha"),
        (lambda: T.tanh(x1) ** 2, r"\tanh(x_{1})^{2}"),
        (lambda: abs(x - y), r"\left|x - y\right|"),
        (lambda: x + 1e-08, "x + 10^{-8}"),
        (lambda: x * 2.5e-07, r"2.5 \cdot 10^{-7} x"),
        (lambda: T.switch(T.gt(x, 0), x, 0.1 * x),
         r"\begin{cases} x & \text{if } x > 0 \\ 0.1 x & \text{otherwise} \end{cases}"),
        (lambda: v * w, r"v \odot w"),
        (lambda: v * 2, "2 v"),
        (lambda: A @ v, "A v"),
        (lambda: W.T @ v, r"W_{hidden}^{\top} v"),
        (lambda: (A @ B).T, r"\left(A B\right)^{\top}"),
        (lambda: T.dot(v, w), r"v \cdot w"),
        (lambda: A @ (v + w), r"A \left(v + w\right)"),
        (lambda: T.sum(v), r"\sum_{i} v_{i}"),
        (lambda: T.sum(A, axis=1), r"\sum_{j} A_{i,j}"),
        (lambda: T.sum(v ** 2), r"\sum v^{2}"),
        (lambda: T.sum(A ** 2, axis=0), r"\sum_{\text{axis}=0} A^{2}"),
        (lambda: T.sum(W, axis=(0, 1)), r"\sum W_{hidden}"),
        (lambda: x * T.sum(v), r"x \sum_{i} v_{i}"),
        (lambda: T.sum(v) * x, r"\left(\sum_{i} v_{i}\right) x"),
        (lambda: T.prod(v + 1), r"\prod \left(v + 1\right)"),
        (lambda: T.max(A, axis=1), r"\max_{\text{axis}=1}\left(A\right)"),
        (lambda: T.sum(T.sigmoid(W.T @ v)), r"\sum \sigma\left(W_{hidden}^{\top} v\right)"),
        (lambda: A[1:, 0], r"A_{1{:},0}"),
        (lambda: W[0], r"{W_{hidden}}_{0}"),
        (lambda: (v + 1)[0], r"\left(v + 1\right)_{0}"),
        (lambda: v + x, "v + x"),
        (lambda: T.nnet.softmax(A @ v), r"\operatorname{softmax}\left(A v\right)"),
        (lambda: T.constant([[1.0, 2.0], [3.0, 4.0]]) @ v,
         r"\begin{bmatrix}1 & 2 \\ 3 & 4\end{bmatrix} v"),
    ],
)
def test_latex(expr, expected):
    assert latex(expr()) == expected


def test_unoptimized_gradient_inside_an_expression_is_a_partial_derivative():
    cost = T.sum(T.tanh(W @ v))
    cost.name = "J"
    gW = T.grad(cost, W)
    lr = T.dscalar("eta")
    assert latex(W - lr * gW) == r"W_{hidden} - \eta \frac{\partial J}{\partial W_{hidden}}"


def test_gradient_itself_prints_as_equation():
    gx = T.grad(x ** 2, x)
    assert latex(gx).startswith(r"\frac{\partial \mathrm{cost}}{\partial x} = ")


def test_optimized_function_prints_formula():
    f = nbgrad.function([x], T.grad(1 / (1 + T.exp(-x)), x))
    assert latex(f) == r"\sigma(-x) \sigma(x)"
    assert latex(f) == latex(f.maker.fgraph)


def test_list_and_composite():
    a, b = T.dscalar(), T.dscalar()
    fused = Elemwise(Composite([a, b], [T.exp(a) * b + 1]))
    assert latex([fused(x, y) * 2, x]) == r"2 \left(e^{x} y + 1\right),\quad x"


def test_repr_latex_of_variables():
    assert (x ** 2)._repr_latex_() == r"$\displaystyle x^{2}$"


def test_deep_chain_prints_within_a_small_stack(shallow_stack):
    chain = x
    for _ in range(3000):
        chain = T.tanh(chain)
    with shallow_stack():
        text = latex(chain)
    assert text == r"\tanh{\left(" * 2999 + r"\tanh(x)" + r"\right)}" * 2999


def long_sum():
    a, b, c = T.dscalars("alpha_first", "beta_second", "gamma_third")
    return a * T.exp(b) + c * T.log(a + b)


LONG_TEX = (r"\alpha_{first} e^{\beta_{second}} + \gamma_{third} "
            r"\log{\left(\alpha_{first} + \beta_{second}\right)}")


@pytest.mark.parametrize(
    "expr, expected",
    [
        # a subscripted operand whose sub/superscripts come late in its text
        (lambda: T.sigmoid(T.dvector("alpha") + T.dvector("beta") + T.dvector("gamma")
                           + T.dvector("delta") + T.dvector("epsilon") * T.dvector("v_1"))[0],
         r"{\sigma\left(\alpha + \beta + \gamma + \delta + \epsilon \odot v_{1}\right)}_{0}"),
        (lambda: T.sigmoid(W.T @ T.dvector("v_input") + T.dvector("b_hidden_layer"))[0],
         r"{\sigma\left(W_{hidden}^{\top} v_{input} + b_{hidden,layer}\right)}_{0}"),
        (lambda: x * -long_sum(), r"x \left(-\left(" + LONG_TEX + r"\right)\right)"),
        (lambda: x + -long_sum(), r"x - \left(" + LONG_TEX + r"\right)"),
        (lambda: (long_sum() / (alpha + y)) ** 2,
         r"\left(\frac{" + LONG_TEX + r"}{\alpha + y}\right)^{2}"),
    ],
)
def test_long_operands_read_as_short_ones(expr, expected):
    assert latex(expr()) == expected
