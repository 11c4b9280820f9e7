"""The gradient of several slices of one vector: one array, incremented in place."""

import numpy as np

import nbgrad
import nbgrad.tensor as T
from nbgrad.rewriting import Mode
from nbgrad.tensor.subtensor import IncSubtensor


def _slices_gradient(theta):
    a, b, c = theta[:3], theta[3:5], theta[5]
    return T.grad(T.sum(T.sin(a)) * T.sum(b ** 2) + c * T.sum(a), theta)


def _incs(f):
    return [n.op for n in f.maker.fgraph.apply_nodes if isinstance(n.op, IncSubtensor)]


def test_the_gradient_of_slices_increments_one_array_in_place():
    theta = T.tensor("float64", shape=(6,), name="theta")
    f = nbgrad.function([theta], _slices_gradient(theta))
    ops = _incs(f)
    assert len(ops) == 3 and sum(op.inplace for op in ops) == 2  # the first copies the zeros
    ref = nbgrad.function([theta], _slices_gradient(theta), mode=Mode("NONE"))
    values = np.array([0.3, -1.2, 2.0, 0.5, -0.7, 1.5])
    first = f(values)
    np.testing.assert_array_equal(first, ref(values))
    second = f(values)  # the zeros it started from were not written into
    np.testing.assert_array_equal(second, first)
    assert second is not first


def test_increments_of_zeros_are_exact_signed_zeros_included():
    x, y = T.dvectors("x", "y")
    z = T.zeros((5,))
    out = T.inc_subtensor(z[:2], x) + T.inc_subtensor(z[1:4], y) + T.inc_subtensor(z[4:], x[:1])
    f = nbgrad.function([x, y], out)
    assert "sum_of_increments" in f.maker.rewrites_applied
    ref = nbgrad.function([x, y], out, mode=Mode("NONE"))
    for xv, yv in (([-0.0, 1e-300], [-0.0, -0.0, 3.0]), ([0.1, 0.2], [0.3, -0.2, 1e16])):
        got, want = f(xv, yv), ref(xv, yv)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


def test_an_increment_read_elsewhere_is_not_written_in_place():
    x = T.dvector("x")
    first = T.inc_subtensor(T.zeros((4,))[:2], x)
    both = T.inc_subtensor(first[2:], x)
    f = nbgrad.function([x], [both, first * 2])
    assert not any(op.inplace for op in _incs(f))
    got, twice = f([1.0, 2.0])
    np.testing.assert_array_equal(got, [1.0, 2.0, 1.0, 2.0])
    np.testing.assert_array_equal(twice, [2.0, 4.0, 0.0, 0.0])
