"""The derivative examples of the course material (seeds 000, 002, 004) give the printed numbers."""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad import gradient


def test_polynomial_gradient():
    x = T.dscalar("x")
    y = x ** 2 + x ** 3 + x ** 4
    f = nbgrad.function([x], T.grad(y, x))
    for v in (-1.5, 0.0, 2.0):
        assert f(v) == pytest.approx(2 * v + 3 * v ** 2 + 4 * v ** 3)


def test_logistic_gradient_is_sigmoid_x_times_sigmoid_minus_x():
    x = T.dscalar("x")
    y1 = 1 / (1 + T.exp(-x))
    f = nbgrad.function([x], T.grad(y1, x))
    for v in (-3.0, 0.0, 0.7):
        s = 1 / (1 + np.exp(-v))
        assert f(v) == pytest.approx(s * (1 - s))


def test_bar_grad_at_ten():
    foo = T.dscalar("foo")
    bar = foo ** 2
    assert T.grad(bar, foo).eval({foo: 10.0}) == 20.0


def test_jacobian_by_scan_form_and_direct_form():
    x = T.dvector("x")
    y = x ** 2
    J = gradient.jacobian(y, x)
    np.testing.assert_allclose(nbgrad.function([x], J)([4, 4]), [[8.0, 0.0], [0.0, 8.0]])


def test_jacobian_of_affine_map_is_A():
    A, x, b = T.dmatrix("A"), T.dvector("x"), T.dvector("b")
    y = T.dot(A, x) + b
    a = np.array([[9.0, 8, 7], [4.0, 5, 6]])
    got = gradient.jacobian(y, x).eval({A: a, x: np.array([1.0, 2, 3]), b: np.array([4.0, 5])})
    np.testing.assert_allclose(got, a)


def test_jacobian_and_hessian_of_scalar_with_list_wrt():
    x, y = T.dvectors("x", "y")
    s = T.sum(x ** 2 + y ** 2)
    h = nbgrad.function([x, y], gradient.jacobian(expression=s, wrt=[x, y]))
    gx, gy = h([1, 2], [1, 2])
    np.testing.assert_allclose(gx, [2.0, 4.0])
    np.testing.assert_allclose(gy, [2.0, 4.0])
    h2 = nbgrad.function([x, y], gradient.hessian(cost=s, wrt=[x, y]))
    hx, hy = h2([1, 2], [1, 2])
    np.testing.assert_allclose(hx, [[2.0, 0.0], [0.0, 2.0]])
    np.testing.assert_allclose(hy, [[2.0, 0.0], [0.0, 2.0]])


def test_hessian_of_sum_of_squares():
    x = T.dvector("x")
    cost = (x ** 2).sum()
    gy = T.grad(cost, x)
    H = gradient.jacobian(gy, x)
    np.testing.assert_allclose(nbgrad.function([x], H)([4, 4]), [[2.0, 0.0], [0.0, 2.0]])


def test_rop_printed_array():
    W, V = T.dmatrices("W", "V")
    x = T.dvector("x")
    y = T.dot(x, W)
    f = nbgrad.function([W, V, x], T.Rop(y, W, V))
    np.testing.assert_allclose(f([[1, 1], [1, 1]], [[2, 2], [2, 2]], [0, 1]), [2.0, 2.0])


def test_lop_printed_array():
    W = T.dmatrix("W")
    V, x = T.dvectors("V", "x")
    y = T.dot(x, W)
    f = nbgrad.function([V, x], T.Lop(y, W, V))
    np.testing.assert_allclose(f([2, 2], [0, 1]), [[0.0, 0.0], [2.0, 2.0]])


def test_both_hessian_vector_products_agree():
    x, v = T.dvectors("x", "v")
    y = T.sum(x ** 2)
    gy = T.grad(y, x)
    vH = T.grad(T.sum(gy * v), x)
    Hv = T.Rop(gy, x, v)
    f = nbgrad.function([x, v], [vH, Hv])
    a, b = f([4, 4], [2, 2])
    np.testing.assert_allclose(a, [4.0, 4.0])
    np.testing.assert_allclose(b, [4.0, 4.0])
    # a non-diagonal Hessian too
    z = T.sum(T.sin(x) * x[::-1]) + (x[0] * x[1]) ** 2
    g = T.grad(z, x)
    f2 = nbgrad.function([x, v], [T.grad((g * v).sum(), x), T.Rop(g, x, v), T.dot(T.hessian(z, x), v)])
    xv, vv = np.array([0.3, -0.8, 1.1]), np.array([1.0, 0.5, -2.0])
    r1, r2, r3 = f2(xv, vv)
    np.testing.assert_allclose(r1, r2)
    np.testing.assert_allclose(r1, r3)


def test_vector_chain_rule_example():
    """Seed 004: y = x², z = sum(3y); dz/dx = 6x."""
    x = T.dvector("x")
    z = (3 * x ** 2).sum()
    np.testing.assert_allclose(T.grad(z, x).eval({x: np.array([1.0, 2.0, 3.0])}), [6.0, 12.0, 18.0])
