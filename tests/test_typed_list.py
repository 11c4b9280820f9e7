"""Typed lists (``nbgrad.typed_list``, Theano's ``theano.typed_list``): each op against Python's list."""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad import typed_list as tl
from nbgrad.typed_list import TypedListType


def _ragged(rng, n, dtype="float64"):
    return [rng.standard_normal(rng.integers(0, 5)).astype(dtype) for _ in range(n)]


def _same(a, b):
    assert isinstance(a, list) and len(a) == len(b)
    for x, y in zip(a, b):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


def test_append_converts_python_lists_as_the_element_type_does():
    lst, v = TypedListType(T.fvector)(), T.fvector()
    f = nbgrad.function([lst, v], tl.append(lst, v))
    _same(f([[1, 2, 3], [4, 5]], [2]),
          [np.array([1, 2, 3], "float32"), np.array([4, 5], "float32"), np.array([2], "float32")])


@pytest.mark.parametrize("seed", range(3))
def test_every_list_op_matches_pythons_list(seed):
    rng = np.random.default_rng(seed)
    data, more = _ragged(rng, 5), _ragged(rng, 2)
    data[3] = data[1].copy()  # one repeated element for count, index and remove
    a, b, v, i = TypedListType(T.dvector)("a"), TypedListType(T.dvector)("b"), T.dvector("v"), T.lscalar("i")
    f = nbgrad.function([a, b, v, i], [
        a[i], a[1:4], a[::-2], tl.length(a), tl.extend(a, b), tl.insert(a, i, v), tl.reverse(a),
        tl.remove(a, v), tl.count(a, v), tl.index_(a, v), a.append(v),
    ])
    k = int(rng.integers(-5, 5))
    got = f(data, more, data[1], k)
    np.testing.assert_array_equal(got[0], data[k])
    _same(got[1], data[1:4])
    _same(got[2], data[::-2])
    assert got[3] == 5 and got[3].dtype == np.int64
    _same(got[4], data + more)
    inserted = list(data)
    inserted.insert(k, data[1])
    _same(got[5], inserted)
    _same(got[6], data[::-1])
    _same(got[7], data[:1] + data[2:])  # the first equal element goes
    assert int(got[8]) == 2 and int(got[9]) == 1


def test_results_never_share_memory_with_the_callers_arrays():
    a, v = TypedListType(T.dvector)("a"), T.dvector("v")
    data, extra = [np.arange(3.0), np.arange(2.0)], np.ones(2)
    f = nbgrad.function([a, v], [a, a[0], tl.append(a, v), tl.make_list([v, v])])
    whole, first, appended, made = f(data, extra)
    for arr in [*whole, first, *appended, *made]:
        arr[...] = -1.0
    np.testing.assert_array_equal(data[0], np.arange(3.0))
    np.testing.assert_array_equal(data[1], np.arange(2.0))
    np.testing.assert_array_equal(extra, np.ones(2))


def test_scan_reads_a_list_given_as_a_non_sequence():
    a = TypedListType(T.fvector)()
    s, _ = nbgrad.scan(lambda i, lst: lst[i].sum(), sequences=[T.arange(tl.length(a), dtype="int64")],
                       non_sequences=[a])
    out = nbgrad.function([a], s)([[1, 2, 3], [4, 5]])
    np.testing.assert_array_equal(out, np.array([6.0, 9.0], "float32"))
    assert out.dtype == np.float32


def test_nested_lists_and_make_list():
    x = T.dvector("x")
    inner = tl.make_list([x, 2 * x])
    assert inner.type == TypedListType(T.dvector)
    outer = TypedListType(T.dvector, depth=1)("outer")
    assert outer.type.get_depth() == 1 and outer.type.ttype == inner.type and outer.ndim == 3
    f = nbgrad.function([outer, x], [tl.append(outer, inner), outer[0][1]])
    nested, picked = f([[[1.0], [2.0, 3.0]], [[4.0]]], [5.0, 6.0])
    assert [len(e) for e in nested] == [2, 1, 2]
    np.testing.assert_array_equal(nested[2][1], [10.0, 12.0])
    np.testing.assert_array_equal(picked, [2.0, 3.0])


def test_python_values_become_elements_of_the_lists_type():
    a = TypedListType(T.fvector)("a")
    f = nbgrad.function([a], [tl.append(a, [1.5, 2.0]), tl.count(a, [1, 2])])
    appended, n = f([[1, 2], [3]])
    assert appended[-1].dtype == np.float32 and int(n) == 1


def test_gradients_through_a_list_say_they_are_not_implemented():
    x = T.dvector("x")
    with pytest.raises(Exception, match="gradient of GetItem .* not implemented"):
        T.grad(tl.make_list([x, 2 * x])[1].sum(), x)


@pytest.mark.parametrize("value, match", [
    (np.arange(3.0), "expected a Python list of TensorType\\(float64, vector\\) values"),
    ([[1.0], [[2.0]]], "input 0 \\('a'\\)\\[1\\]: expected 1 dimension"),
    ([["x"]], "input 0 \\('a'\\)\\[0\\]"),
    ([np.ma.masked_array([1.0, 2.0], mask=[0, 1])], "mask"),
])
def test_bad_list_inputs_name_the_input_and_the_element(value, match):
    a = TypedListType(T.dvector)("a")
    f = nbgrad.function([a], tl.length(a))
    with pytest.raises((TypeError, ValueError), match=match):
        f(value)


def test_bad_positions_and_values_raise_clear_errors():
    a, v = TypedListType(T.dvector)("a"), T.dvector("v")
    f = nbgrad.function([a], tl.getitem(a, 3))
    with pytest.raises(IndexError, match="index 3 is out of range for a list of 2"):
        f([[1.0], [2.0]])
    g = nbgrad.function([a, v], tl.index_(a, v))
    with pytest.raises(ValueError, match="no element of the list"):
        g([[1.0]], [2.0])
    with pytest.raises(TypeError, match="the list holds TensorType\\(float64, vector\\) values"):
        tl.append(a, T.fvector("f"))
    with pytest.raises(TypeError, match="expected an integer scalar index"):
        tl.getitem(a, T.dscalar())
    with pytest.raises(TypeError, match="every element must have one type"):
        tl.make_list([T.dvector(), T.dmatrix()])
    with pytest.raises(TypeError, match="len\\(\\) of a symbolic list"):
        len(a)
    with pytest.raises(TypeError, match="Python int bounds"):
        a[T.lscalar():]
    with pytest.raises(ValueError, match="depth must be an integer >= 0"):
        TypedListType(T.dvector, depth=-1)


def test_lists_print_with_their_ops():
    a = TypedListType(T.dvector)("a")
    assert str(TypedListType(T.fvector)) == "TypedList <TensorType(float32, vector)>"
    assert nbgrad.pp(tl.length(a)) == "Length(a)"
    assert str(a[1:3].owner.op) == "GetItem{1:3}" and str(a[::2].owner.op) == "GetItem{::2}"


def test_theano_import_path_works():
    import importlib

    mod = importlib.import_module("nbgrad.typed_list")
    assert nbgrad.typed_list is mod and mod.TypedListType is TypedListType


def test_batching_a_list_op_says_lists_have_no_batched_form():
    from nbgrad.vectorize import vectorize_graph

    a, i = TypedListType(T.dvector)("a"), T.lscalar("i")
    with pytest.raises(TypeError, match="GetItem: typed lists have no batched form"):
        vectorize_graph(a[i] * 2, {i: T.lvector("ib")})
    x = T.dvector("x")  # a list read at a constant position batches as the tensors around it do
    xb = T.dmatrix("xb")
    row = nbgrad.function([a, xb], vectorize_graph(a[0] * x, {x: xb}))
    np.testing.assert_array_equal(row([[1.0, 2.0]], np.ones((3, 2))), np.tile([1.0, 2.0], (3, 1)))
