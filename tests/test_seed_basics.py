"""The non-random examples of the Theano course pages (seeds 002 and 003), run on nbgrad.

Each test is the course code with ``theano`` replaced by ``nbgrad``; the expected
numbers are the ones the course pages print (or, where a page only plots, the
closed form it states).
"""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad import In, shared

floatX = nbgrad.config.floatX


# --- seed 002: Theano basics -------------------------------------------------------
def test_drop_in_import_and_square():
    import nbgrad as theano
    import nbgrad.tensor as T

    foo = T.scalar("x")
    assert str(foo) == "x"
    bar = foo ** 2
    text = theano.pp(bar)
    assert "x" in text and "2" in text and "**" in text
    assert foo.type == T.TensorType(theano.config.floatX, ())
    square = theano.function([foo], bar)
    assert float(square(3)) == 9.0
    assert float(bar.eval({foo: 3})) == 9.0


def _linear_mix_inputs():
    A = np.array([[1, 2, 3], [4, 5, 6]], dtype=floatX)
    x = np.array([1, 2, 3], dtype=floatX)
    b = np.array([4, 5], dtype=floatX)
    return A, x, b


def test_linear_mix_and_param_default():
    A = T.matrix("A")
    x = T.vector("x")
    b = T.vector("b")
    y = T.dot(A, x) + b
    z = T.sum(A ** 2)
    linear_mix = nbgrad.function([A, x, b], [y, z])
    yv, zv = linear_mix(*_linear_mix_inputs())
    np.testing.assert_array_equal(yv, [18.0, 37.0])
    assert float(zv) == 91.0 and zv.shape == ()

    linear_mix_default = nbgrad.function(
        [A, x, nbgrad.Param(b, default=np.zeros(2, dtype=floatX))], [y, z])
    Av, xv, bv = _linear_mix_inputs()
    yv, zv = linear_mix_default(Av, xv)
    np.testing.assert_array_equal(yv, [14.0, 32.0])
    assert float(zv) == 91.0
    yv, zv = linear_mix_default(Av, xv, bv)
    np.testing.assert_array_equal(yv, [18.0, 37.0])
    assert float(zv) == 91.0


def test_shared_var_squares_and_update_with_subtract():
    shared_var = nbgrad.shared(np.array([[1.0, 2.0], [3.0, 4.0]], dtype=floatX))
    assert shared_var.type == T.matrix().type
    shared_var.set_value(np.array([[3.0, 4], [2, 1]], dtype=floatX))
    np.testing.assert_array_equal(shared_var.get_value(), [[3.0, 4.0], [2.0, 1.0]])
    shared_square = shared_var ** 2
    f = nbgrad.function([], shared_square)
    np.testing.assert_array_equal(f(), [[9.0, 16.0], [4.0, 1.0]])
    shared_var.set_value(np.array([[1.0, 2], [3, 4]], dtype=floatX))
    np.testing.assert_array_equal(f(), [[1.0, 4.0], [9.0, 16.0]])

    subtract = T.matrix("subtract")
    f_update = nbgrad.function([subtract], shared_var, updates={shared_var: shared_var - subtract})
    np.testing.assert_array_equal(shared_var.get_value(), [[1.0, 2.0], [3.0, 4.0]])
    returned = f_update(np.array([[1.0, 1], [1, 1]], dtype=floatX))
    np.testing.assert_array_equal(returned, [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(shared_var.get_value(), [[0.0, 1.0], [2.0, 3.0]])


def test_bar_grad_eval():
    foo = T.scalar("x")
    bar = foo ** 2
    bar_grad = T.grad(bar, foo)
    assert float(bar_grad.eval({foo: 10})) == 20.0


def test_jacobian_of_affine_map():
    A = T.matrix("A")
    x = T.vector("x")
    b = T.vector("b")
    y = T.dot(A, x) + b
    y_J = nbgrad.gradient.jacobian(y, x)
    out = y_J.eval({A: np.array([[9.0, 8, 7], [4, 5, 6]], dtype=floatX),
                    x: np.array([1.0, 2, 3], dtype=floatX),
                    b: np.array([4.0, 5], dtype=floatX)})
    np.testing.assert_array_equal(out, [[9.0, 8.0, 7.0], [4.0, 5.0, 6.0]])


def test_rop_example():
    W = T.dmatrix("W")
    V = T.dmatrix("V")
    x = T.dvector("x")
    y = T.dot(x, W)
    JV = T.Rop(y, W, V)
    f = nbgrad.function([W, V, x], JV)
    np.testing.assert_array_equal(f([[1, 1], [1, 1]], [[2, 2], [2, 2]], [0, 1]), [2.0, 2.0])


# --- seed 003: functions, In, shared, updates, givens, copy -------------------------
def test_logistic_both_ways():
    x = T.dvector("x")
    y = 1 / (1 + T.exp(-x))
    logistic = nbgrad.function([x], y)
    x_tick = np.arange(-6, 6, 0.1)
    y_tick = logistic(x_tick)
    np.testing.assert_allclose(y_tick, 1 / (1 + np.exp(-x_tick)), rtol=1e-12)
    y2 = (1 + T.tanh(x / 2)) / 2
    logistic2 = nbgrad.function([x], y2)
    np.testing.assert_allclose(logistic2(x_tick), y_tick, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(logistic([0, 1]), [0.5, 0.7310585786300049], rtol=1e-12)


def test_multiple_outputs_in_order():
    a, b = T.dmatrices("a", "b")
    diff = a - b
    diff_abs = abs(diff)
    diff_square = diff ** 2
    f = nbgrad.function([a, b], [diff, diff_abs, diff_square])
    x1 = np.array([[1, 1], [1, 1]])
    y1 = np.array([[0, 1], [2, 3]])
    c, d, e = f(x1, y1)
    np.testing.assert_array_equal(c, [[1.0, 0.0], [-1.0, -2.0]])
    np.testing.assert_array_equal(d, [[1.0, 0.0], [1.0, 2.0]])
    np.testing.assert_array_equal(e, [[1.0, 0.0], [1.0, 4.0]])


def test_in_defaults_and_w_by_name():
    import nbgrad.compile.io as TIO

    x, y, w = T.dscalars("x", "y", "w")
    z = (x + y) * w
    f = nbgrad.function([x, In(y, value=1), In(w, value=2, name="w_by_name")], z)
    assert float(f(33)) == 68.0
    assert float(f(33, 2)) == 70.0
    assert float(f(33, w_by_name=1, y=0)) == 33.0
    g = nbgrad.function([x, TIO.In(y, value=1), TIO.In(w, value=2, name="w_by_name")], z)
    assert float(g(33)) == 68.0


def test_accumulator_decrementor_givens_and_copy():
    state = shared(0.0)
    inc = T.dscalar("inc")
    accumulator = nbgrad.function([inc], state, updates=[(state, state + inc)])
    decrementor = nbgrad.function([inc], state, updates=[(state, state - inc)])
    assert state.get_value() == 0.0
    accumulator(3.0)
    assert state.get_value() == 3.0
    decrementor(2.0)
    assert state.get_value() == 1.0

    # the int-vs-float trap of note 1 is a clear error at compile time
    int_state = shared(0)
    with pytest.raises(TypeError, match=r"shared\(0\.0\)"):
        nbgrad.function([inc], int_state, updates=[(int_state, int_state + inc)])

    state.set_value(0.0)
    foo = T.scalar(dtype=state.dtype)
    temp_express = state * 2 + inc
    skip_shared = nbgrad.function([inc, foo], temp_express, givens=[(state, foo)])
    assert float(skip_shared(1, 3)) == 7.0
    assert state.get_value() == 0.0

    new_state = nbgrad.shared(0.0)
    new_accumulator = accumulator.copy(swap={state: new_state})
    new_accumulator(100)
    assert new_state.get_value() == 100.0

    new_state1 = nbgrad.shared(1.0)
    null_accumulator = accumulator.copy(delete_updates=True, swap={state: new_state1})
    null_accumulator(20)
    assert new_state1.get_value() == 1.0
    assert state.get_value() == 0.0
