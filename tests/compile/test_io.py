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


# --- converting the values passed for inputs ---------------------------------------


def test_masked_array_input_is_refused_naming_the_input():
    x = T.dvector("x")
    f = nbgrad.function([x], x.sum())
    masked = np.ma.masked_array([1.0, 2.0, 3.0], mask=[0, 1, 0])
    with pytest.raises(TypeError, match=r"input 0 \('x'\).*MaskedArray \(1 masked.*filled"):
        f(masked)
    assert float(f(masked.filled(0.0))) == 4.0
    fd = nbgrad.function([x], x.sum(), allow_input_downcast=True)
    with pytest.raises(TypeError, match="MaskedArray"):
        fd(masked)


def test_masked_array_default_value_is_refused():
    x = T.dvector("x")
    with pytest.raises(TypeError, match="default value of input 0.*MaskedArray"):
        nbgrad.function([In(x, value=np.ma.masked_array([1.0], mask=[1]))], x * 2)


@pytest.mark.parametrize("dtype, value", [
    ("int32", 2 ** 40), ("int32", float("nan")), ("int32", np.float64("nan")),
    ("uint8", -1), ("int8", 300), ("int8", 127.5 + 1), ("float32", 1e300),
    ("float32", np.float64(-1e300)), ("int64", 2 ** 70), ("uint64", -1.0),
    ("int16", float("inf")), ("float16", 70000), ("bool", 2), ("float32", 1e300 + 1j),
])
def test_downcast_refuses_values_that_do_not_fit(dtype, value):
    v = T.scalar("v", dtype=dtype)
    f = nbgrad.function([v], v, allow_input_downcast=True)
    with pytest.raises(ValueError, match=rf"input 0 \('v'\): .* does not fit in {dtype}"):
        f(value)


@pytest.mark.parametrize("dtype, value, expected", [
    ("float32", 0.1, np.float32(0.1)), ("float32", float("inf"), np.inf),
    ("int8", 127.9, 127), ("int8", -128.5, -128), ("uint8", 255, 255), ("int32", -7.9, -7),
    ("float16", 65519.0, 65504.0), ("int64", 2 ** 63 - 1, 2 ** 63 - 1), ("bool", 1.0, True),
])
def test_downcast_rounds_values_that_fit(dtype, value, expected):
    v = T.scalar("v", dtype=dtype)
    out = nbgrad.function([v], v, allow_input_downcast=True)(value)
    assert out.dtype == dtype and out == expected


def test_downcast_of_arrays_names_the_first_value_that_does_not_fit():
    v = T.bvector("v")
    f = nbgrad.function([v], v, allow_input_downcast=True)
    with pytest.raises(ValueError, match=r"input 0 \('v'\): 300 does not fit in int8 .*index \(2,\)"):
        f(np.array([1, 2, 300, -500]))
    with pytest.raises(ValueError, match=r"nan does not fit in int8"):
        f(np.array([1.0, np.nan]))
    assert f(np.array([1.9, -128.0, 127.0])).tolist() == [1, -128, 127]
    m = T.fmatrix("m")
    fm = nbgrad.function([m], m, allow_input_downcast=True)
    with pytest.raises(ValueError, match=r"1e\+300 does not fit in float32 .*index \(1, 0\)"):
        fm(np.array([[1.0, 2.0], [1e300, np.inf]]))


def test_python_floats_into_a_float32_input_do_not_overflow():
    # without allow_input_downcast Python numbers go into float32 inputs (Theano's rule)...
    fv = T.fscalar("fv")
    f = nbgrad.function([fv], fv * 2)
    assert f(0.5) == np.float32(1.0)
    # ...but one that float32 cannot hold is refused, not turned into inf
    with pytest.raises(ValueError, match=r"'fv'.*1e\+300 does not fit in float32"):
        f(1e300)


def test_downcast_of_text_names_the_input_when_it_does_not_parse():
    x = T.dvector("x")
    f = nbgrad.function([x], x, allow_input_downcast=True)
    with pytest.raises(ValueError, match=r"input 0 \('x'\): cannot convert the strings .* to float64"):
        f(np.array(["a", "b"]))
    assert f(np.array(["1.5", "2"])).tolist() == [1.5, 2.0]
    b = T.bvector("b")
    with pytest.raises(ValueError, match=r"300 does not fit in int8"):
        nbgrad.function([b], b, allow_input_downcast=True)(np.array(["1", "300"]))


@pytest.mark.parametrize("allow", [None, False])
@pytest.mark.parametrize("value, what", [
    (np.array(["1.5", "2"]), "strings"), (np.array([None, 1.0]), "Python objects"),
    (np.array(["2020-01-01"], dtype="datetime64[D]"), "dates"),
])
def test_non_numeric_arrays_get_a_hint_that_helps(allow, value, what):
    x = T.dvector("x")
    f = nbgrad.function([x], x, allow_input_downcast=allow)
    with pytest.raises(TypeError, match=rf"input 0 \('x'\): expected float64 numbers, got an array of {what}") as info:
        f(value)
    assert "allow_input_downcast" not in str(info.value)


def test_downcast_check_is_skipped_for_exact_arrays():
    # the per-call fast path: an array of the input's own type is returned as it is
    x = T.bvector("x")
    f = nbgrad.function([x], x, allow_input_downcast=True)
    arr = np.array([1, 2], dtype=np.int8)
    assert f._filters[0](arr) is arr
