"""nbgrad.ifelse: values, laziness (the untaken branch is not computed), gradients, rewrites."""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.gradient import verify_grad
from nbgrad.graph.basic import Apply
from nbgrad.graph.op import Op
from nbgrad.ifelse import IfElse, ifelse
from nbgrad.tensor.type import TensorType


class Counted(Op):
    """Identity that counts how often it runs (in ``calls[tag]``)."""

    __props__ = ("tag",)
    calls = {}

    def __init__(self, tag):
        self.tag = tag

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [TensorType(x.dtype, x.type.shape)()])

    def perform(self, node, inputs, xp):
        Counted.calls[self.tag] = Counted.calls.get(self.tag, 0) + 1
        return inputs[0].copy()

    def L_op(self, inputs, outputs, output_grads):
        return [output_grads[0]]


@pytest.fixture(autouse=True)
def _reset_counts():
    Counted.calls.clear()


def _branches(x):
    """Two branches that each run one counted node, plus elementwise work around it."""
    return T.exp(Counted("then")(x * 2)).sum(), T.sin(Counted("else")(x + 1)).max()


@pytest.mark.parametrize("mode", ["FAST_RUN", "FAST_COMPILE"])
def test_only_the_taken_branch_runs(mode):
    c, x = T.bscalar("c"), T.dvector("x")
    then, other = _branches(x)
    f = nbgrad.function([c, x], ifelse(c, then, other), mode=mode)
    v = np.array([0.1, -0.4, 0.3])
    assert np.isclose(f(1, v), np.exp(v * 2).sum())
    assert Counted.calls == {"then": 1}
    assert np.isclose(f(0, v), np.sin(v + 1).max())
    assert Counted.calls == {"then": 1, "else": 1}
    for _ in range(3):
        f(0, v)
    assert Counted.calls == {"then": 1, "else": 4}


def test_shared_work_runs_once_before_the_choice_and_nested_ifelse_is_lazy():
    a, x = T.dscalar("a"), T.dvector("x")
    common = Counted("common")(x * 3)
    inner = ifelse(T.gt(a, 0), Counted("inner_then")(common).sum(), Counted("inner_else")(x).sum())
    out = ifelse(T.lt(a, 10), inner + common.sum(), common.max())
    f = nbgrad.function([a, x], out)
    v = np.array([1.0, 2.0])
    assert np.isclose(f(20.0, v), 6.0)
    assert Counted.calls == {"common": 1}
    assert np.isclose(f(-1.0, v), 3.0 + 9.0)
    assert Counted.calls == {"common": 2, "inner_else": 1}
    assert np.isclose(f(1.0, v), 9.0 + 9.0)
    assert Counted.calls == {"common": 3, "inner_else": 1, "inner_then": 1}


def test_generated_code_has_an_if_block_holding_the_branch_nodes():
    c, x = T.bscalar("c"), T.dvector("x")
    then, other = _branches(x)
    f = nbgrad.function([c, x], ifelse(c, then, other))
    lines = f.source.splitlines()
    if_line = next(k for k, ln in enumerate(lines) if ln.strip().startswith("if "))
    else_line = next(k for k, ln in enumerate(lines) if ln.strip() == "else:")
    # every computation besides the condition's is indented under the if or the else
    top = [ln for ln in lines[1:if_line] if "= _t" in ln]
    assert top == [], f.source
    assert sum("= _t" in ln for ln in lines[if_line:else_line]) >= 2
    assert sum("= _t" in ln for ln in lines[else_line:]) >= 2


def test_fusion_does_not_pull_a_branch_into_the_common_part():
    """exp(x)*2 feeds only the then-branch: after fusion it must still sit inside the if."""
    c, x = T.bscalar("c"), T.dvector("x")
    f = nbgrad.function([c, x], [ifelse(c, Counted("t")(T.exp(x) * 2 + 1), x), x * 3])
    v = np.array([0.5, 1.0])
    np.testing.assert_allclose(f(0, v)[0], v)
    assert Counted.calls == {}
    np.testing.assert_allclose(f(1, v)[0], np.exp(v) * 2 + 1)
    top_level = [ln for ln in f.source.splitlines() if ln.startswith("    v") and "= _t" in ln]
    assert len(top_level) == 1, f.source  # x * 3 only; exp, *, + and the counter are in the if


def test_list_of_outputs_and_values():
    c, x, y = T.iscalar("c"), T.dmatrix("x"), T.dmatrix("y")
    outs = ifelse(c, [x @ y, x.sum()], [x - y, y.sum()])
    assert isinstance(outs, list) and len(outs) == 2
    f = nbgrad.function([c, x, y], outs)
    a, b = np.arange(4.0).reshape(2, 2), np.ones((2, 2))
    np.testing.assert_allclose(f(5, a, b)[0], a @ b)
    np.testing.assert_allclose(f(0, a, b)[0], a - b)
    assert float(f(0, a, b)[1]) == 4.0


def test_output_is_a_copy_when_a_branch_returns_an_input():
    c, x = T.bscalar("c"), T.dvector("x")
    f = nbgrad.function([c, x], ifelse(c, x, x * 2))
    v = np.array([1.0, 2.0])
    out = f(1, v)
    out[0] = 100.0
    assert v[0] == 1.0


def test_dtypes_are_upcast_and_static_shapes_kept_where_they_agree():
    c = T.bscalar("c")
    a = T.tensor("float32", shape=(3, None), name="a")
    b = T.tensor("float64", shape=(3, 4), name="b")
    out = ifelse(c, a, b)
    assert out.dtype == "float64" and out.type.shape == (3, None)


@pytest.mark.parametrize("bad, match", [
    (lambda c, x: ifelse(T.dvector(), x, x), "condition must be a scalar"),
    (lambda c, x: ifelse(c, x, T.dmatrix()), "same number of dimensions"),
    (lambda c, x: ifelse(c, [x, x], [x]), "each output needs a value in both branches"),
    (lambda c, x: ifelse(c, [x], x), "both as lists"),
])
def test_bad_arguments_say_what_is_expected(bad, match):
    with pytest.raises((TypeError, ValueError), match=match):
        bad(T.bscalar("c"), T.dvector("x"))


@pytest.mark.parametrize("cond", [1, 0])
def test_gradient_is_ifelse_of_the_branch_gradients(cond):
    x, y = T.dvectors("x", "y")
    out = ifelse(T.constant(np.int8(cond)), (x * y).sum() ** 2, T.exp(x).sum() + 0 * y.sum())
    gx, gy = T.grad(out, [x, y])
    assert any(isinstance(n.op, IfElse) for n in nbgrad.graph.traversal.io_toposort([x, y], [gx]))
    vx, vy = np.array([0.3, -0.2]), np.array([1.5, 0.5])
    got = nbgrad.function([x, y], [gx, gy])(vx, vy)
    s = (vx * vy).sum()
    want = [2 * s * vy, 2 * s * vx] if cond else [np.exp(vx), np.zeros(2)]
    np.testing.assert_allclose(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1])


def test_gradient_and_second_order_against_finite_differences():
    rng = np.random.default_rng(0)
    for c in (0, 1):
        def fn(x, y, c=c):
            return ifelse(T.constant(np.int8(c)), T.tanh(x * y), x ** 3 - y)

        verify_grad(fn, [rng.normal(size=3), rng.normal(size=3)], rng=rng)

        def grad_vec(x, c=c):
            return T.grad(ifelse(T.constant(np.int8(c)), (T.sin(x) * x).sum(), (x ** 3).sum()), x)

        verify_grad(grad_vec, [rng.normal(size=3)], rng=rng)


def test_symbolic_condition_gradient_with_a_runtime_choice():
    c, x = T.bscalar("c"), T.dvector("x")
    g = T.grad(ifelse(c, (x ** 2).sum(), T.sin(x).sum()), x)
    f = nbgrad.function([c, x], g)
    v = np.array([0.5, -1.0])
    np.testing.assert_allclose(f(1, v), 2 * v)
    np.testing.assert_allclose(f(0, v), np.cos(v))


def test_rop_is_ifelse_of_the_branch_tangents():
    c, x, v = T.bscalar("c"), T.dvector("x"), T.dvector("v")
    out = ifelse(c, x ** 2, T.sin(x))
    jv = T.Rop(out, x, v)
    f = nbgrad.function([c, x, v], jv)
    px, pv = np.array([0.5, 2.0]), np.array([1.0, -1.0])
    np.testing.assert_allclose(f(1, px, pv), 2 * px * pv)
    np.testing.assert_allclose(f(0, px, pv), np.cos(px) * pv)


def test_prints_as_ifelse_in_text_and_cases_in_latex():
    c, a, b = T.bscalar("c"), T.dscalar("a"), T.dscalar("b")
    out = ifelse(c, a + b, a * b)
    assert nbgrad.pp(out) == "ifelse(c, a + b, a * b)"
    tex = nbgrad.printing.latex(out)
    assert tex.startswith(r"\begin{cases}") and r"\text{if } c" in tex


def test_theano_import_path():
    import nbgrad.ifelse as mod

    assert nbgrad.ifelse is mod and mod.ifelse is ifelse
