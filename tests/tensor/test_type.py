"""TensorType: identity, dtype promotion and broadcasting as in NumPy, value filtering."""

import itertools

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.tensor.type import TensorType

DTYPES = ["bool", "int8", "uint8", "int16", "int32", "int64", "uint64",
          "float16", "float32", "float64", "complex64", "complex128"]


def test_identity_is_dtype_and_shape():
    assert TensorType("float64", (None, 1)) == TensorType("float64", (None, 1))
    assert hash(TensorType("int8", ())) == hash(TensorType("int8", ()))
    assert TensorType("float64", (None,)) != TensorType("float32", (None,))
    assert TensorType("float64", (None,)) != TensorType("float64", (3,))
    assert TensorType(np.float32, (None,)).dtype == "float32"
    assert TensorType("float64", broadcastable=(True, False)).shape == (1, None)


@pytest.mark.parametrize("a, b", list(itertools.combinations_with_replacement(DTYPES, 2)))
def test_binary_dtype_promotion_matches_numpy(a, b):
    x, y = T.vector(dtype=a), T.vector(dtype=b)
    expected = np.result_type(np.zeros(1, a), np.zeros(1, b)).name
    assert (x + y).dtype == expected
    assert (y * x).dtype == expected


@pytest.mark.parametrize("dtype", ["int8", "int32", "uint8", "float16", "float32", "float64", "complex64"])
@pytest.mark.parametrize("number", [2, 2.5, True])
def test_python_numbers_are_weak_as_in_numpy(dtype, number):
    x = T.vector(dtype=dtype)
    expected = (np.zeros(2, dtype) + number).dtype.name
    assert (x + number).dtype == expected
    assert (number + x).dtype == expected


def test_true_division_of_ints_gives_float64_as_numpy():
    assert (T.ivector() / 2).dtype == (np.zeros(1, "int32") / 2).dtype.name
    assert (T.ivector() // 2).dtype == (np.zeros(1, "int32") // 2).dtype.name


def test_python_int_too_big_for_the_dtype_is_a_clear_error():
    with pytest.raises(OverflowError, match=r"300 does not fit in int8.*astype"):
        T.bvector() + 300


@pytest.mark.parametrize("sa, sb", [
    ((None, 1), (1, None)),
    ((None, None), (None,)),
    ((None, 3), (2, 1)),
    ((1,), (None, None, None)),
    ((), (None, 1)),
])
def test_broadcasting_of_static_shapes(sa, sb):
    a = T.tensor("float64", shape=sa)
    b = T.tensor("float64", shape=sb)
    out = (a + b).type
    n = max(len(sa), len(sb))
    pa = (1,) * (n - len(sa)) + sa
    pb = (1,) * (n - len(sb)) + sb
    for got, x, y in zip(out.shape, pa, pb):
        if x == 1:
            assert got == y
        elif y == 1:
            assert got == x
        else:
            assert got == (x if x is not None else y)


def test_row_plus_col_values_match_numpy():
    r, c = T.drow("r"), T.dcol("c")
    f = nbgrad.function([r, c], r + c)
    rv, cv = np.array([[1.0, 2.0, 3.0]]), np.array([[10.0], [20.0]])
    np.testing.assert_array_equal(f(rv, cv), rv + cv)
    assert (r + c).type.shape == (None, None)


def test_static_shapes_that_cannot_broadcast_fail_when_built():
    a = T.tensor("float64", shape=(2,))
    b = T.tensor("float64", shape=(3,))
    with pytest.raises(ValueError, match="broadcast"):
        a + b


# --- filter ----------------------------------------------------------------------
def test_filter_passes_arrays_of_the_right_dtype_uncopied():
    t = TensorType("float64", (None,))
    a = np.arange(3.0)
    assert t.filter(a) is a


def test_filter_converts_exact_values():
    t = TensorType("int32", (None,))
    out = t.filter([1, 2, 3])
    assert out.dtype == np.int32 and out.tolist() == [1, 2, 3]
    assert t.filter([1.0, 2.0]).tolist() == [1, 2]
    assert TensorType("float64", ()).filter(3).dtype == np.float64


@pytest.mark.parametrize("value, dtype", [
    (np.array([1.5]), "float32"),
    (np.array([1], dtype="int64"), "int32"),
    (np.array([1.0 + 1j]), "float64"),
    ([1.5], "int32"),
    ([2 ** 40], "int32"),
    ([-1], "uint8"),
])
def test_filter_refuses_lossy_conversion_unless_allowed(value, dtype):
    t = TensorType(dtype, (None,))
    with pytest.raises(TypeError, match=rf"my input.*{dtype}"):
        t.filter(value, what="my input")
    if np.iscomplexobj(value):
        return
    out = t.filter(value, allow_downcast=True)
    assert out.dtype == np.dtype(dtype)


def test_strict_filter_requires_the_exact_dtype():
    t = TensorType("float64", (None,))
    with pytest.raises(TypeError, match="strict"):
        t.filter([1.0], strict=True, what="x")
    a = np.ones(2)
    assert t.filter(a, strict=True) is a


@pytest.mark.parametrize("value", ["abc", None, [[1.0], [1.0, 2.0]], {"a": 1}, object()])
def test_filter_refuses_unparseable_values(value):
    t = TensorType("float64", (None,))
    with pytest.raises(TypeError, match="input 'v'"):
        t.filter(value, what="input 'v'")


def test_filter_checks_ndim_and_static_shape():
    t = TensorType("float64", (None, 2))
    with pytest.raises(TypeError, match=r"expected 2 dimension\(s\).*got 1"):
        t.filter(np.ones(2))
    with pytest.raises(ValueError, match=r"size 3 on axis 1, expected 2"):
        t.filter(np.ones((1, 3)))
