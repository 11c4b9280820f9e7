import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.printing import pp
from nbgrad.scalar.composite import Composite
from nbgrad.tensor.elemwise import Elemwise

x, y = T.dscalars("x", "y")
v, w = T.dvectors("v", "w")
A, B = T.dmatrices("A", "B")


@pytest.mark.parametrize(
    "expr, expected",
    [
        (lambda: x ** 2 + 3 * x, "x ** 2 + 3 * x"),
        (lambda: (x + 1) * y, "(x + 1) * y"),
        (lambda: x - (y - 1), "x - (y - 1)"),
        (lambda: x - y - 1, "x - y - 1"),
        (lambda: x / (y * 2), "x / (2 * y)"),
        (lambda: (x ** y) ** 2, "(x ** y) ** 2"),
        (lambda: -(x ** 2), "-x ** 2"),
        (lambda: (-x) ** 2, "(-x) ** 2"),
        (lambda: x * -y, "x * (-y)"),
        (lambda: 1 / (1 + T.exp(-x)), "1 / (1 + exp(-x))"),
        (lambda: T.sqr(x + 1), "(x + 1) ** 2"),
        (lambda: x * 0.5 + 1e-08, "0.5 * x + 1e-08"),
        (lambda: T.lt(x, y) & T.gt(x, 0), "(x < y) & (x > 0)"),
        (lambda: T.maximum(x, y), "maximum(x, y)"),
        (lambda: A.T @ v, "A.T @ v"),
        (lambda: T.dot(A, B) + 1, "A @ B + 1"),
        (lambda: A @ (B @ v), "A @ (B @ v)"),
        (lambda: T.sum(A, axis=1), "sum(A, axis=1)"),
        (lambda: T.sum(v ** 2), "sum(v ** 2)"),
        (lambda: T.max(A, axis=0) * 2, "2 * max(A, axis=0)"),
        (lambda: A[1:, 0], "A[1:, 0]"),
        (lambda: (v + 1)[::2], "(v + 1)[::2]"),
        (lambda: v + x, "v + x"),
        (lambda: v.dimshuffle(0, "x") * w, "v[:, None] * w"),
        (lambda: T.set_subtensor(v[1:], w[1:]), "set_subtensor(v[1:], w[1:])"),
        (lambda: A.shape[0] * x, "A.shape[0] * x"),
        (lambda: T.nnet.softmax(A), "softmax(A)"),
        (lambda: T.constant([1.0, 2.0]) * v, "[1, 2] * v"),
    ],
)
def test_pp(expr, expected):
    assert pp(expr()) == expected


def test_named_intermediates_print_as_names_but_top_level_expands():
    h = T.tanh(A @ v)
    h.name = "h"
    out = T.sum(h ** 2)
    assert pp(out) == "sum(h ** 2)"
    assert pp(h) == "tanh(A @ v)"


def test_list_prints_one_line_each():
    assert pp([x + 1, y * 2]) == "x + 1\n2 * y"


def test_fallback_op_prints_name_and_props():
    from nbgrad.gradient import GradClip

    assert pp(GradClip(-1.0, 1.0)(x)) == "GradClip{-1.0, 1.0}(x)"


def test_composite_inlines_inner_expression():
    a, b = T.dscalar(), T.dscalar()
    fused = Elemwise(Composite([a, b], [T.exp(a) * b + 1]))
    assert pp(fused(v, x) * 2) == "2 * (exp(v) * x + 1)"


def test_optimized_gradient_reads_as_one_expression():
    f = nbgrad.function([x], T.grad(x ** 2 + x ** 3 + x ** 4, x))
    text = pp(f.maker.fgraph.outputs[0])
    assert "Composite" not in text and "Elemwise" not in text
    for power in ("x ** 2", "x ** 3"):
        assert power in text
    assert float(f(2.0)) == 2 * 2 + 3 * 4 + 4 * 8


def test_run_time_broadcast_sum_prints_as_its_argument():
    import nbgrad.tensor as T
    from nbgrad.tensor.elemwise import SumToShape

    g, x = T.dvector("g"), T.dvector("x")
    s = SumToShape()(g * 2, T.shape(x))
    assert nbgrad.pp(s) == "2 * g"
    assert nbgrad.printing.latex(s) == "2 g"


def test_one_composite_applied_twice_prints_each_with_its_own_operands():
    a, b = T.dscalar(), T.dscalar()
    fused = Elemwise(Composite([a, b], [T.exp(a) * b + 1]))
    assert pp(fused(v, x) * fused(w, y)) == "(exp(v) * x + 1) * (exp(w) * y + 1)"


def tanh_chain(n):
    out = x
    for _ in range(n):
        out = T.tanh(out)
    return out


def test_deep_chain_prints_within_a_small_stack(shallow_stack):
    with shallow_stack():
        assert pp(tanh_chain(3000)) == "tanh(" * 3000 + "x" + ")" * 3000


def test_printing_keeps_a_bounded_text_per_variable():
    # each variable's text is its own few characters plus a placeholder for a
    # long operand, so a chain n deep copies O(n) characters, not O(n ** 2)
    from nbgrad.printing import TextPrinter

    n = 5000
    chain = tanh_chain(n)
    printer = TextPrinter()
    assert printer.doprint(chain) == "tanh(" * n + "x" + ")" * n
    assert max(len(p.s) for p in printer._memo.values()) < 300
    terms = [T.dscalar(f"x_{k}") for k in range(3000)]
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    printer = TextPrinter()
    assert printer.doprint(total) == " + ".join(f"x_{k}" for k in range(3000))
    assert max(len(p.s) for p in printer._memo.values()) < 300


def test_long_operands_keep_their_parentheses():
    al, be, ga = T.dscalars("alpha_first", "beta_second", "gamma_third")
    long = al * T.exp(be) + ga * T.log(al + be)
    text = "alpha_first * exp(beta_second) + gamma_third * log(alpha_first + beta_second)"
    assert pp(x * -long) == f"x * (-({text}))"
    assert pp(x + -long) == f"x + (-({text}))"
    assert pp((long / (al + ga)) ** 2) == f"(({text}) / (alpha_first + gamma_third)) ** 2"
