"""Rewrites that rest on Theano's broadcasting rule (nbgrad/rewriting/shapes.py)."""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.rewriting import Mode
from nbgrad.tensor.shape import CheckSizes
from tests.rewriting.helpers import rewritten, values_agree

MODE = Mode(excluding=["fusion", "inplace"])


def _ops(fg):
    return [type(n.op).__name__ for n in fg.toposort()]


def test_elemwise_alloc_checked_fires_and_keeps_the_size_check():
    x, y = T.dvector("x"), T.dvector("y")
    out = T.alloc(2.0, T.shape(x)[0]) * y
    fg, applied = rewritten([x, y], out, MODE)
    assert "elemwise_alloc_checked" in applied
    assert "Alloc" not in _ops(fg) and "CheckSizes" in _ops(fg)
    assert values_agree([x, y], out, [np.array([1.0, 2.0]), np.array([3.0, -0.0])])
    f = nbgrad.function([x, y], out)
    with pytest.raises(ValueError, match="same size on axis 0"):
        f(np.ones(3), np.ones(2))


def test_elemwise_alloc_checked_leaves_a_broadcastable_carrier_alone():
    # y may broadcast (static size 1): the alloc alone gives the result's size
    x, y = T.dvector("x"), T.tensor("float64", shape=(1,), name="y")
    out = T.alloc(2.0, T.shape(x)[0]) * y
    fg, applied = rewritten([x, y], out, MODE)
    assert "elemwise_alloc_checked" not in applied
    np.testing.assert_array_equal(nbgrad.function([x, y], out)(np.ones(3), [5.0]), [10.0] * 3)


def test_check_sizes_useless_fires_when_the_sizes_are_the_value_s_own():
    x = T.dvector("x")
    out = CheckSizes([0])(T.exp(x), T.shape(x)[0])
    fg, applied = rewritten([x], out, MODE)
    assert "check_sizes_useless" in applied
    assert "CheckSizes" not in _ops(fg)
    assert values_agree([x], out, [np.array([0.5, -1.0])])


def test_check_sizes_stays_where_the_sizes_come_from_another_variable():
    x, y = T.dvector("x"), T.dvector("y")
    out = CheckSizes([0])(T.exp(y), T.shape(x)[0])
    fg, applied = rewritten([x, y], out, MODE)
    assert "check_sizes_useless" not in applied and "CheckSizes" in _ops(fg)


@pytest.mark.parametrize("n", [1, 3])
def test_gradient_of_a_product_is_the_other_factor_with_its_size_checked(n):
    x, y = T.dvector("x"), T.dvector("y")
    f = nbgrad.function([x, y], T.grad((x * y).sum(), x))
    yv = np.arange(1.0, n + 1)
    np.testing.assert_array_equal(f(np.zeros(n), yv), yv)
    with pytest.raises(ValueError):
        f(np.zeros(n + 1), yv)


def test_make_vector_entry_reads_an_entry_of_a_shape_vector():
    x, y = T.dvector("x"), T.dmatrix("y")
    out = T.shape(T.exp(y))[1] + T.shape(x * x)[0]
    fg, applied = rewritten([x, y], out, MODE)
    assert "make_vector_entry" in applied
    assert "MakeVector" not in _ops(fg) and "Subtensor" not in _ops(fg)
    assert values_agree([x, y], out, [np.ones(2), np.ones((3, 5))])
    # an index beyond the vector is left for the Subtensor to report
    bad = T.stack([T.shape(x)[0]])[1]
    fg, applied = rewritten([x], bad, MODE)
    assert "make_vector_entry" not in applied


def test_elemwise_of_fill_computes_the_scalar_once_and_spreads_it():
    x = T.dvector("x")
    out = T.alloc(1.0, T.shape(x)[0]) * 2.0 + 0.0 * T.alloc(3.0, T.shape(x)[0])
    fg, applied = rewritten([x], out, MODE)
    assert "elemwise_of_fill" in applied
    assert values_agree([x], out, [np.ones(4)])
    # a fill against a variable is a broadcast, not a constant: left to elemwise_alloc_checked
    fg, applied = rewritten([x], T.alloc(1.0, T.shape(x)[0]) * x, MODE)
    assert "elemwise_of_fill" not in applied
