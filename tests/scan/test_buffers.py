"""Scan buffers across calls: reused when nothing refers to them, never a held result."""

import numpy as np

import nbgrad
import nbgrad.tensor as T
from nbgrad.scan import Scan

RNG = np.random.default_rng(7)


def rnn_states(h, x, W):
    return T.tanh(T.dot(h, W) + x)


def make_rnn():
    W, X, h0 = T.dmatrix("W"), T.dtensor3("X"), T.dmatrix("h0")
    hs, _ = nbgrad.scan(lambda x, h, W: rnn_states(h, x, W), sequences=X,
                        outputs_info=h0, non_sequences=W)
    return nbgrad.function([W, X, h0], hs)


def reference(w, x, h):
    out = []
    for row in x:
        h = np.tanh(h @ w + row)
        out.append(h)
    return np.array(out)


def data(scale):
    return (RNG.normal(size=(3, 3)) * scale, RNG.normal(size=(6, 2, 3)) * scale,
            RNG.normal(size=(2, 3)) * scale)


def test_a_held_result_is_not_overwritten_by_the_next_call():
    f = make_rnn()
    a = data(1.0)
    first = f(*a)
    kept = first.copy()
    second = f(*data(0.5))
    np.testing.assert_array_equal(first, kept)
    np.testing.assert_allclose(first, reference(*a))
    assert not np.shares_memory(first, second)


def test_a_held_view_of_a_result_is_not_overwritten():
    f = make_rnn()
    a = data(1.0)
    out = f(*a)
    view = out[2:].T
    kept = view.copy()
    del out
    f(*data(0.5))
    f(*data(0.25))
    np.testing.assert_array_equal(view, kept)


def test_a_dropped_result_gives_its_buffer_to_the_next_call():
    f = make_rnn()
    out = f(*data(1.0))
    address = out.__array_interface__["data"][0]
    del out
    a = data(0.5)
    out = f(*a)
    # same memory, new values
    assert out.__array_interface__["data"][0] == address
    np.testing.assert_allclose(out, reference(*a))


def test_a_result_passed_back_as_the_initial_state_is_read_correctly():
    f = make_rnn()
    w, x, h = data(1.0)
    first = f(w, x, h)
    second = f(w, x, first[-1])
    np.testing.assert_allclose(second, reference(w, x, reference(w, x, h)[-1]))


def test_a_held_per_step_output_is_not_overwritten():
    # an output that is not fed back (one row per step)
    X, h0 = T.dmatrix("X"), T.dvector("h0")
    (hs, ys), _ = nbgrad.scan(lambda x, h: (h + x, 2 * x), sequences=X,
                              outputs_info=[h0, None])
    f = nbgrad.function([X, h0], ys[1:])
    x = RNG.normal(size=(5, 3))
    first = f(x, np.zeros(3))
    kept = first.copy()
    f(RNG.normal(size=(5, 3)), np.zeros(3))
    np.testing.assert_array_equal(first, kept)
    np.testing.assert_allclose(first, 2 * x[1:])
    del first
    x2 = RNG.normal(size=(5, 3))
    np.testing.assert_allclose(f(x2, np.zeros(3)), 2 * x2[1:])


def test_a_held_gradient_loop_output_is_not_overwritten():
    W, X, h0 = T.dmatrix("W"), T.dtensor3("X"), T.dmatrix("h0")
    hs, _ = nbgrad.scan(lambda x, h, W: rnn_states(h, x, W), sequences=X,
                        outputs_info=h0, non_sequences=W)
    g = nbgrad.function([W, X, h0], T.grad(hs[-1].sum(), [W, X]))
    a = data(1.0)
    gw1, gx1 = g(*a)
    kept = gw1.copy(), gx1.copy()
    g(*data(0.5))
    np.testing.assert_array_equal(gw1, kept[0])
    np.testing.assert_array_equal(gx1, kept[1])


def test_one_lag_backward_carry_is_a_row():
    # the gradient loop carries h's gradient as a (batch, hidden) row: no axis is added
    # and dropped every step
    W, X, h0 = T.dmatrix("W"), T.dtensor3("X"), T.dmatrix("h0")
    hs, _ = nbgrad.scan(lambda x, h, W: rnn_states(h, x, W), sequences=X,
                        outputs_info=h0, non_sequences=W)
    g = nbgrad.function([W, X, h0], T.grad(hs[-1].sum(), [W, h0]))
    w, x, h = data(1.0)
    gw, gh = g(w, x, h)
    grad_ops = [n.op for n in g.maker.fgraph.apply_nodes
                if isinstance(n.op, Scan) and n.op.info.name == "grad_of_scan"]
    assert grad_ops
    for op in grad_ops:
        names = [type(n.op).__name__ for n in op._inner_graph(np).apply_nodes]
        assert "DimShuffle" not in names, names
    # h0's gradient by finite differences
    eps = 1e-6
    num = np.zeros_like(h)
    for i in np.ndindex(h.shape):
        d = np.zeros_like(h)
        d[i] = eps
        num[i] = (reference(w, x, h + d)[-1].sum() - reference(w, x, h - d)[-1].sum()) / (2 * eps)
    np.testing.assert_allclose(gh, num, rtol=1e-5, atol=1e-8)
    assert gw.shape == w.shape
