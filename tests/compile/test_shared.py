"""Shared variables: value, type, borrow semantics, checks."""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad import shared


def test_types_follow_numpy():
    assert shared(0).type == T.lscalar().type
    assert shared(0.0).dtype == "float64"
    assert shared(np.zeros((2, 3), dtype="float32")).type == T.fmatrix().type
    assert shared([1, 2]).dtype == np.asarray([1, 2]).dtype.name
    assert str(shared(np.ones((2, 2))).type) == "TensorType(float64, matrix)"


def test_get_value_is_a_copy_unless_borrowed():
    s = shared(np.array([1.0, 2.0]))
    v = s.get_value()
    v[0] = 5.0
    np.testing.assert_array_equal(s.get_value(), [1.0, 2.0])
    b = s.get_value(borrow=True)
    b[0] = 5.0
    np.testing.assert_array_equal(s.get_value(), [5.0, 2.0])


def test_shared_copies_its_value_unless_borrowed():
    arr = np.array([3.0, 4.0])
    s = shared(arr)
    arr[0] = 0.0
    np.testing.assert_array_equal(s.get_value(), [3.0, 4.0])
    arr = np.array([3.0, 4.0])
    s = shared(arr, borrow=True)
    arr[0] = 0.0
    np.testing.assert_array_equal(s.get_value(), [0.0, 4.0])


def test_set_value_copies_unless_borrowed():
    s = shared(np.zeros(2))
    arr = np.array([1.0, 2.0])
    s.set_value(arr)
    arr[0] = 7.0
    np.testing.assert_array_equal(s.get_value(), [1.0, 2.0])
    s.set_value(arr, borrow=True)
    arr[1] = 8.0
    np.testing.assert_array_equal(s.get_value(), [7.0, 8.0])
    view_source = np.arange(4.0)
    s.set_value(view_source[::2])
    view_source[0] = 100.0
    np.testing.assert_array_equal(s.get_value(), [0.0, 2.0])


def test_set_value_checks_the_type():
    s = shared(np.zeros(2), name="w")
    with pytest.raises(TypeError, match=r"shared variable 'w'.*expected 1 dimension"):
        s.set_value(np.zeros((2, 2)))
    with pytest.raises(TypeError, match="shared variable 'w'"):
        s.set_value("abc")
    i = shared(0, name="count")
    with pytest.raises(TypeError, match="'count'"):
        i.set_value(0.5)
    s.set_value([1, 2])  # exact conversion of Python numbers
    assert s.get_value().dtype == np.float64


def test_shared_refuses_non_numeric_and_symbolic_values():
    with pytest.raises(TypeError, match="not numeric"):
        shared("abc")
    with pytest.raises(TypeError, match="not numeric"):
        shared(None)
    with pytest.raises(TypeError, match="symbolic variable"):
        shared(T.dscalar("x"))


def test_compiled_functions_see_set_value_and_updates_are_visible():
    s = shared(np.array([1.0, 2.0]), name="s")
    f = nbgrad.function([], s.sum())
    assert float(f()) == 3.0
    s.set_value(np.array([10.0, 20.0]))
    assert float(f()) == 30.0
    g = nbgrad.function([], [], updates={s: s * 0})
    g()
    assert float(f()) == 0.0


def test_function_never_changes_a_borrowed_value_in_place():
    arr = np.array([1.0, 2.0])
    s = shared(arr, borrow=True)
    f = nbgrad.function([], [], updates={s: s + 1})
    f()
    np.testing.assert_array_equal(arr, [1.0, 2.0])  # a new array was assigned
    np.testing.assert_array_equal(s.get_value(), [2.0, 3.0])


def test_repr_and_str():
    s = shared(np.zeros((2, 3)), name="W")
    assert str(s) == "W"
    assert repr(s) == "SharedVariable(name='W', dtype=float64, shape=(2, 3))"


def test_masked_arrays_are_refused_with_a_clear_error():
    masked = np.ma.masked_array([1.0, 2.0], mask=[0, 1])
    with pytest.raises(TypeError, match=r"shared\('w'\): got a numpy.ma.MaskedArray \(1 masked"):
        shared(masked, name="w")
    s = shared(np.zeros(2), name="s")
    with pytest.raises(TypeError, match=r"shared variable 's': got a numpy.ma.MaskedArray.*filled"):
        s.set_value(masked)
    np.testing.assert_array_equal(s.get_value(), [0.0, 0.0])
    s.set_value(masked.filled(0.0))
    np.testing.assert_array_equal(s.get_value(), [1.0, 0.0])


def test_each_shared_variable_has_its_own_lock_in_creation_order():
    a, b = shared(0.0), shared(0.0)
    assert a.lock is not b.lock and a.lock_rank < b.lock_rank
    x = T.dscalar("x")
    f = nbgrad.function([x], [], updates=[(b, b + x), (a, a + x)])
    assert f._locks == (a.lock, b.lock)  # taken in rank order, whatever the order given
