"""Tracing eager code into a compiled symbolic function."""

import numpy as np
import pytest

import nbgrad
import nbgrad.eager as ne


def f(x, w):
    y = ne.tanh(x @ w)
    while y.norm() < 5:
        y = y * 2
    return (y ** 2).sum()


def test_trace_gives_the_same_values_and_a_printable_formula():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((4, 3)), rng.standard_normal(3) * 0.1
    tr = ne.trace(f, x, w)
    assert [i.name for i in tr.inputs] == ["x", "w"]
    np.testing.assert_allclose(tr(x, w), f(ne.tensor(x), ne.tensor(w)).item())
    text = nbgrad.pp(tr.output)
    assert "tanh" in text and "x" in text and "w" in text
    assert tr.formula() == text


def test_traced_graph_can_be_differentiated_symbolically():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((4, 3)), rng.standard_normal(3)
    tr = ne.trace(f, x, w)
    gw = nbgrad.function(tr.inputs, nbgrad.grad(tr.output, tr.inputs[1]))
    W = ne.tensor(w, requires_grad=True)
    f(ne.tensor(x), W).backward()
    np.testing.assert_allclose(gw(x, w), W.grad.numpy(), rtol=1e-10)


def test_another_control_path_is_reported():
    x, w = np.ones((2, 3)), np.full(3, 0.01)
    tr = ne.trace(f, x, w)
    with pytest.raises(ne.ControlPathError, match="another branch"):
        tr(x, np.full(3, 10.0))


@pytest.mark.parametrize("read", [
    lambda v: v.item(), lambda v: float(v), lambda v: v.tolist(),
    lambda v: float(v.numpy()), lambda v: float(np.asarray(v)),
])
def test_a_value_read_as_a_number_is_not_reused_for_other_inputs(read):
    tr = ne.trace(lambda v: v * read(v), ne.tensor(2.0))
    assert float(tr(np.float32(2.0))) == 4.0 and tr.retraces == 0
    assert float(tr(np.float32(3.0))) == 9.0  # eager: 3 * 3; never 3 * 2
    assert tr.retraces == 1
    assert float(tr(ne.tensor(3.0))) == 9.0 and tr.retraces == 1


def test_int_and_index_reads_are_checked_as_integers():
    tr = ne.trace(lambda x: x * int(x.sum()), ne.tensor([1.2, 2.0]))
    np.testing.assert_allclose(tr(np.array([1.3, 2.0], dtype=np.float32)), [3 * 1.3, 6.0], rtol=1e-6)
    assert tr.retraces == 0  # int(3.3) == int(3.2): the same value
    np.testing.assert_allclose(tr(np.array([2.3, 2.0], dtype=np.float32)), [4 * 2.3, 8.0], rtol=1e-6)
    assert tr.retraces == 1
    table = ne.tensor([10.0, 20.0, 30.0])
    tr = ne.trace(lambda i: table[int(i)] * 1, ne.tensor(0))
    assert float(tr(np.int64(2))) == 30.0


def test_a_branch_on_a_python_float_follows_the_new_value():
    def g(x):
        if float(x.sum()) > 0:
            return x * 2
        return -x

    tr = ne.trace(g, ne.tensor([1.0, 2.0]))
    np.testing.assert_array_equal(tr(np.array([-1.0, -2.0], dtype=np.float32)), [1.0, 2.0])
    np.testing.assert_array_equal(tr(np.array([3.0, 1.0], dtype=np.float32)), [6.0, 2.0])


def test_a_value_that_keeps_changing_raises_after_the_retrace_limit():
    tr = ne.trace(lambda v: v * v.item(), ne.tensor(1.0))
    from nbgrad.eager.trace import MAX_RETRACES

    for k in range(2, 2 + MAX_RETRACES):
        assert float(tr(np.float32(k))) == k * k
    with pytest.raises(ne.ControlPathError, match=r"item\(\) at .*test_trace.py.*call the function eagerly"):
        tr(np.float32(100.0))


def test_the_same_inputs_do_not_retrace():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(1000).astype(np.float32)
    tr = ne.trace(lambda v: v / float((v * v).sum()) ** 0.5, x)
    for _ in range(3):
        tr(x)
    assert tr.retraces == 0
