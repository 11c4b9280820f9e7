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
