"""Jacobians and Hessians of T.dvector / T.dmatrix code: the same values and graphs as static shapes.

Under Theano's broadcasting rule a vector of unknown length does not stretch,
so the banded rules of ``nbgrad.banded`` hold without static lengths. These
tests compare dynamic-shape, static-shape and NumPy results on short vectors
(where slices and offsets go wrong) and check that a value of the wrong size
still raises.
"""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from tests.test_vectorize import _w5_cost, _w5_hessian

rng = np.random.default_rng(1)
LENGTHS = [1, 2, 3, 4, 7]


def _matrices(f):
    return [v for v in f.maker.fgraph.variables if v.ndim == 2 and v.owner is not None]


def _both(build, n):
    """The compiled function of ``build`` for a T.dvector and for a vector of static length n."""
    out = []
    for x in (T.dvector("x"), T.TensorType("float64", (n,))("x")):
        out.append(nbgrad.function([x], build(x)))
    return out


@pytest.mark.parametrize("n", LENGTHS)
def test_w5_hessian_of_dvector_equals_static_and_numpy(n):
    dyn, static = _both(lambda x: T.hessian(_w5_cost(x), x), n)
    xv = rng.normal(size=n)
    np.testing.assert_array_equal(dyn(xv), static(xv))
    np.testing.assert_allclose(dyn(xv), _w5_hessian(xv), rtol=1e-12, atol=1e-12)


def test_w5_hessian_of_dvector_is_written_once_from_three_diagonals():
    """Like the static form: no n × n intermediate, the result is one Diagonals node."""
    x = T.dvector("x")
    f = nbgrad.function([x], T.hessian(_w5_cost(x), x))
    (only,) = _matrices(f)
    assert str(only.owner.op) == "Diagonals{-1,0,1}"
    ops = {type(n.op).__name__ for n in f.maker.fgraph.toposort()}
    assert "SumToShape" not in ops  # no run-time broadcast sums left
    assert len(f.maker.fgraph.toposort()) <= 15


@pytest.mark.parametrize(
    "build, expected",
    [
        (lambda x: T.jacobian(x ** 2, x), lambda v: np.diag(2 * v)),
        (lambda x: T.hessian((x ** 2).sum(), x), lambda v: 2 * np.eye(v.size)),
        (lambda x: T.hessian((x ** 2 * T.exp(x)).sum(), x),
         lambda v: np.diag(np.exp(v) * (v ** 2 + 4 * v + 2))),
        (lambda x: T.jacobian(x[1:] - x[:-1], x),
         lambda v: np.eye(v.size)[1:] - np.eye(v.size)[:-1]),
        (lambda x: T.jacobian(x[1:] * x[:-1], x),
         lambda v: np.eye(v.size)[1:] * v[:-1, None] + np.eye(v.size)[:-1] * v[1:, None]),
        (lambda x: T.jacobian(T.inc_subtensor(x[1:], x[:-1] ** 2), x),
         lambda v: np.eye(v.size) + np.vstack([np.zeros((1, v.size)), np.eye(v.size)[:-1] * 2 * v[:-1, None]])),
    ],
)
@pytest.mark.parametrize("n", LENGTHS)
def test_diagonal_jacobians_of_dvector_equal_static_and_numpy(build, expected, n):
    dyn, static = _both(build, n)
    xv = rng.normal(size=n)
    np.testing.assert_array_equal(dyn(xv), static(xv))
    np.testing.assert_allclose(dyn(xv), expected(xv), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "build",
    [
        lambda x: T.jacobian(x ** 2, x),
        lambda x: T.hessian((x ** 2).sum(), x),
        lambda x: T.hessian((x ** 2 * T.exp(x)).sum(), x),
        lambda x: T.jacobian(x[1:] * x[:-1], x),
    ],
)
def test_diagonal_jacobians_of_dvector_are_one_diagonals_node(build):
    x = T.dvector("x")
    f = nbgrad.function([x], build(x))
    (only,) = _matrices(f)
    assert type(only.owner.op).__name__ == "Diagonals"


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (3, 2), (5, 5)])
def test_w4_jacobian_of_dmatrix_dvector_equals_static_and_numpy(shape):
    W, x = T.dmatrix("W"), T.dvector("x")
    Ws, xs = T.TensorType("float64", shape)("W"), T.TensorType("float64", shape[1:])("x")
    dyn = nbgrad.function([W, x], T.jacobian(T.tanh(T.dot(W, x)), x))
    static = nbgrad.function([Ws, xs], T.jacobian(T.tanh(T.dot(Ws, xs)), xs))
    w, xv = rng.normal(size=shape), rng.normal(size=shape[1])
    np.testing.assert_array_equal(dyn(w, xv), static(w, xv))
    np.testing.assert_allclose(dyn(w, xv), (1 - np.tanh(w @ xv) ** 2)[:, None] * w, rtol=1e-12)


def test_w4_jacobian_of_dmatrix_has_no_matrix_product_or_ones():
    W, x = T.dmatrix("W"), T.dvector("x")
    f = nbgrad.function([W, x], T.jacobian(T.tanh(T.dot(W, x)), x))
    ops = [type(n.op).__name__ for n in f.maker.fgraph.toposort()]
    assert ops.count("Dot") + ops.count("Matmul") == 1  # only the forward W·x
    assert "Diagonals" not in ops  # rows of W scaled, no diagonal matrix product


def test_jacobian_of_operands_of_different_lengths_raises():
    """x * y with len(x) != len(y) is an error; its Jacobian must not return a wrong-shaped matrix."""
    x, y = T.dvector("x"), T.dvector("y")
    f = nbgrad.function([x, y], T.jacobian(x * y, x))
    np.testing.assert_allclose(f([1.0, 2.0], [3.0, 4.0]), np.diag([3.0, 4.0]))
    with pytest.raises(ValueError):
        f([1.0, 2.0, 3.0], [3.0, 4.0])
    with pytest.raises(ValueError):
        f([1.0, 2.0], [3.0])  # a length 1 does not broadcast in a dimension of unknown size


def test_hessian_of_mismatched_slices_raises():
    """x[1:] * x has lengths n - 1 and n: an error for every n, in the Hessian too."""
    x = T.dvector("x")
    f = nbgrad.function([x], T.hessian((x[1:] * x[:-1] * x[1:]).sum() + (x[2:] * x).sum(), x))
    with pytest.raises(ValueError):
        f(rng.normal(size=5))


def test_increment_of_a_length_one_value_still_broadcasts():
    """inc_subtensor assigns with NumPy's rule: a run-time length-1 increment stretches, exactly."""
    x, y = T.dvector("x"), T.dvector("y")
    out = T.inc_subtensor(x[1:], y * y)
    J = nbgrad.function([x, y], T.jacobian(out, y))
    np.testing.assert_allclose(J([1.0, 2.0, 3.0], [5.0]), [[0.0], [10.0], [10.0]])
    np.testing.assert_allclose(J([1.0, 2.0, 3.0], [5.0, 6.0]), [[0.0, 0.0], [10.0, 0.0], [0.0, 12.0]])
