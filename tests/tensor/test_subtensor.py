"""Indexing: every index kind, its gradient, set/inc_subtensor and the error messages."""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T


def _grad_of_index(index, shape=(3, 4)):
    x = T.dmatrix("x")
    v = np.arange(np.prod(shape), dtype=float).reshape(shape)
    sel = x[index]
    w = np.random.default_rng(0).normal(size=v[index].shape)
    return nbgrad.function([x], T.grad((sel * w).sum(), x))(v), v, w


@pytest.mark.parametrize(
    "index",
    [np.s_[1:, ::2], np.s_[-1], np.s_[[0, 2, 2]], np.s_[[0, 0, 1], [1, 1, 3]], np.s_[:, [3, 3]], np.s_[..., 1]],
    ids=["slices", "int", "int-array-repeated", "two-int-arrays", "slice-and-array", "ellipsis"],
)
def test_index_gradient_scatters_back(index):
    got, v, w = _grad_of_index(index)
    expected = np.zeros_like(v)
    np.add.at(expected, index, w)
    np.testing.assert_allclose(got, expected)


def test_bool_mask_gradient():
    x = T.dmatrix("x")
    v = np.array([[1.0, -2.0], [-3.0, 4.0]])
    got = nbgrad.function([x], T.grad((x[x > 0] ** 2).sum(), x))(v)
    np.testing.assert_allclose(got, np.where(v > 0, 2 * v, 0.0))


def test_set_subtensor_gradient_blocks_overwritten_entries():
    x, y = T.dvector("x"), T.dscalar("y")
    out = T.set_subtensor(x[1:3], y) * np.array([1.0, 2.0, 3.0, 4.0])
    gx, gy = nbgrad.function([x, y], T.grad(out.sum(), [x, y]))(np.zeros(4), 1.0)
    np.testing.assert_allclose(gx, [1.0, 0.0, 0.0, 4.0])
    assert gy == 5.0


def test_inc_subtensor_repeated_indices_accumulate():
    x, y = T.dvector("x"), T.dvector("y")
    out = T.inc_subtensor(x[[0, 0, 2]], y)
    got = out.eval({x: np.zeros(3), y: np.array([1.0, 2.0, 3.0])})
    np.testing.assert_allclose(got, [3.0, 0.0, 3.0])
    gy = nbgrad.function([x, y], T.grad((out * np.array([1.0, 2.0, 3.0])).sum(), y))(np.zeros(3), np.ones(3))
    np.testing.assert_allclose(gy, [1.0, 1.0, 3.0])


def test_symbolic_shape_entry():
    x = T.dmatrix("x")
    assert x.shape[1].eval({x: np.zeros((2, 5))}) == 5


def test_set_subtensor_needs_an_indexed_variable():
    with pytest.raises(TypeError, match="indexed variable such as x"):
        T.set_subtensor(T.dvector("x"), 1.0)


def test_too_many_indices():
    with pytest.raises(IndexError, match="too many indices"):
        T.dvector("x")[0, 1]


def test_float_index_is_rejected():
    with pytest.raises(IndexError, match="integer or boolean dtype"):
        T.dvector("x")[T.dvector("i")]


def test_variables_cannot_be_assigned_into():
    x = T.dvector("x")
    with pytest.raises(TypeError, match="set_subtensor"):
        x[0] = 1.0
