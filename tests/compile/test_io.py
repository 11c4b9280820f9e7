"""In / Param / Out: defaults, names, keyword calls, stateful inputs."""

import numpy as np
import pytest

import nbgrad
import nbgrad.compile.io as io
import nbgrad.tensor as T
from nbgrad import In, Param


def test_in_is_importable_from_both_places():
    assert io.In is In and io.Param is Param
    from nbgrad.compile.io import In as In2

    assert In2 is In


def test_defaults_and_renamed_input():
    x, y, w = T.dscalars("x", "y", "w")
    f = nbgrad.function([x, io.In(y, value=1), io.In(w, value=2, name="w_by_name")], (x + y) * w)
    assert float(f(33)) == (33 + 1) * 2
    assert float(f(33, 2)) == (33 + 2) * 2
    assert float(f(33, w_by_name=1, y=0)) == 33.0
    with pytest.raises(TypeError, match="unexpected keyword argument 'w'"):
        f(33, w=1)


def test_default_value_is_checked_against_the_type():
    x = T.ivector("x")
    with pytest.raises(TypeError, match="default value of input 0"):
        nbgrad.function([In(x, value=[1.5])], x * 2)


def test_param_is_the_old_name_for_in_with_default():
    A = T.dmatrix("A")
    x, b = T.dvectors("x", "b")
    f = nbgrad.function([A, x, Param(b, default=np.zeros(2))], T.dot(A, x) + b)
    Av, xv = np.array([[1.0, 2, 3], [4, 5, 6]]), np.array([1.0, 2, 3])
    np.testing.assert_array_equal(f(Av, xv), Av @ xv)
    np.testing.assert_array_equal(f(Av, xv, np.array([4.0, 5])), Av @ xv + [4.0, 5])


def test_stateful_input_keeps_its_updated_value():
    x = T.dscalar("x")
    acc = T.dscalar("acc")
    f = nbgrad.function([x, In(acc, value=0.0, update=acc + x)], acc + x)
    assert float(f(1)) == 1.0  # acc: 0 -> 1
    assert float(f(2)) == 3.0  # acc: 1 -> 3
    assert float(f(3)) == 6.0  # acc: 3 -> 6


def test_in_options_do_not_leak_between_functions():
    fv = T.fvector("fv")
    shared_in = In(fv)
    nbgrad.function([shared_in], fv * 2, allow_input_downcast=True)
    g = nbgrad.function([shared_in], fv * 2)
    with pytest.raises(TypeError, match="float64 to float32"):
        g(np.array([1.5]))


def test_in_refuses_non_variables():
    with pytest.raises(TypeError, match="symbolic variable"):
        In(3.0)
    with pytest.raises(TypeError, match="not symbolic variables|symbolic variables or In"):
        nbgrad.function([3.0], T.dscalar())


def test_out_borrow_flag_keeps_values():
    x = T.dvector("x")
    f = nbgrad.function([x], nbgrad.Out(x * 2, borrow=True))
    np.testing.assert_array_equal(f([1.0, 2.0]), [2.0, 4.0])
