"""Sorting ops (``T.sort``, ``T.argsort``, ``T.topk`` and relatives) against NumPy.

The op table (``tests/op_table.py``) runs the generic checks on them (values, L_op and
R_op against finite differences, batching, printing, save and load, GPU); here: ties,
descending order, ``axis=None``, negative axes, integer dtypes, NaN, gradients at
points the table does not draw, and errors.
"""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.gradient import DisconnectedInputError, verify_grad
from nbgrad.tensor.sort import ArgSortOp, SortOp, take_along_axis, topk_and_argtopk

RNG = np.random.default_rng(17)
TIES = np.array([[2, 1, 2, 0, 1], [3, 3, 3, 1, 3]])


def _stable_descending(x, axis):
    idx = np.argsort(np.flip(x, axis), axis=axis, kind="stable")
    return (x.shape[axis] - 1) - np.flip(idx, axis)


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "int32", "int8", "uint8"])
@pytest.mark.parametrize("axis", [0, 1, -1, None])
def test_sort_and_argsort_match_numpys_stable_sort(dtype, axis):
    x = T.matrix("x", dtype=dtype)
    xv = TIES.astype(dtype)
    f = nbgrad.function([x], [T.sort(x, axis), T.argsort(x, axis)])
    values, indices = f(xv)
    np.testing.assert_array_equal(values, np.sort(xv, axis))
    np.testing.assert_array_equal(indices, np.argsort(xv, axis, kind="stable"))
    assert values.dtype == xv.dtype and indices.dtype == np.int64


@pytest.mark.parametrize("dtype", ["float64", "int32"])
@pytest.mark.parametrize("axis", [0, 1, -1, None])
def test_descending_sort_keeps_ties_in_order(dtype, axis):
    x = T.matrix("x", dtype=dtype)
    xv = TIES.astype(dtype)
    f = nbgrad.function([x], [T.sort(x, axis, descending=True), T.argsort(x, axis, descending=True)])
    values, indices = f(xv)
    flat, a = (xv.ravel(), 0) if axis is None else (xv, axis)
    want = _stable_descending(flat, a)
    np.testing.assert_array_equal(indices, want)
    np.testing.assert_array_equal(values, np.take_along_axis(flat, want, a))
    assert np.all(np.diff(values, axis=a) <= 0)


def test_argsort_of_equal_values_is_the_identity():
    x = T.dvector("x")
    f = nbgrad.function([x], [T.argsort(x), T.argsort(x, descending=True)])
    up, down = f(np.ones(6))
    np.testing.assert_array_equal(up, np.arange(6))
    np.testing.assert_array_equal(down, np.arange(6))


def test_nan_sorts_as_the_largest_value():
    x = T.dvector("x")
    xv = np.array([1.0, np.nan, -1.0, 2.0])
    f = nbgrad.function([x], [T.sort(x), T.sort(x, descending=True), T.argsort(x, descending=True)])
    up, down, idx = f(xv)
    np.testing.assert_array_equal(up, [-1.0, 1.0, 2.0, np.nan])
    np.testing.assert_array_equal(down, [np.nan, 2.0, 1.0, -1.0])
    np.testing.assert_array_equal(idx, [1, 3, 0, 2])


def test_sort_keeps_static_shape_and_argsort_gives_int64():
    x = T.tensor(dtype="float32", shape=(3, None))
    assert T.sort(x).type == x.type
    assert T.argsort(x).type == T.tensor(dtype="int64", shape=(3, None)).type
    assert T.sort(x, None).ndim == 1


@pytest.mark.parametrize("axis, descending", [(0, False), (1, True), (-1, False), (None, True)])
def test_sort_gradients_match_finite_differences(axis, descending):
    xv = RNG.standard_normal((3, 4))
    verify_grad(
        lambda x: (
            T.sort(x, axis, descending=descending)
            * np.arange(12.0).reshape((12,) if axis is None else (3, 4))
        ),
        [xv],
        rng=RNG,
    )


def test_sort_gradient_puts_each_output_gradient_where_its_value_came_from():
    x = T.dvector("x")
    xv = np.array([0.3, -1.0, 2.0, 0.5])
    for descending in (False, True):
        weights = np.array([1.0, 10.0, 100.0, 1000.0])
        g = T.grad((T.sort(x, descending=descending) * weights).sum(), x)
        order = np.argsort(-xv if descending else xv)
        want = np.empty(4)
        want[order] = weights
        np.testing.assert_array_equal(nbgrad.function([x], g)(xv), want)


def test_sort_R_op_is_the_sorted_tangent():
    x, v = T.dmatrix("x"), T.dmatrix("v")
    xv, vv = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    for descending in (False, True):
        jv = nbgrad.function([x, v], T.Rop(T.sort(x, 0, descending=descending), x, v))(xv, vv)
        idx = _stable_descending(xv, 0) if descending else np.argsort(xv, 0)
        np.testing.assert_allclose(jv, np.take_along_axis(vv, idx, 0))


def test_argsort_has_no_gradient():
    x = T.dvector("x")
    cost = T.cast(T.argsort(x), "float64").sum()
    with pytest.raises(DisconnectedInputError):
        T.grad(cost, x)
    jv = nbgrad.function([x], T.Rop(T.argsort(x), x, T.ones_like(x)))(np.array([2.0, 1.0]))
    assert not np.any(jv)


def test_take_along_axis_matches_numpy_and_its_gradient_scatters():
    x, i = T.dtensor3("x"), T.ltensor3("i")
    xv = RNG.standard_normal((2, 3, 4))
    iv = RNG.integers(0, 3, size=(2, 5, 4))
    y = take_along_axis(x, i, 1)
    np.testing.assert_array_equal(nbgrad.function([x, i], y)(xv, iv), np.take_along_axis(xv, iv, 1))
    g = nbgrad.function([x, i], T.grad(y.sum(), x))(xv, iv)
    want = np.zeros_like(xv)
    np.put_along_axis(want, iv, 0.0, 1)
    for b, j, k in np.ndindex(iv.shape):
        want[b, iv[b, j, k], k] += 1.0
    np.testing.assert_array_equal(g, want)


@pytest.mark.parametrize("kth", [1, 3, -2])
def test_topk_and_argtopk_match_numpy(kth):
    x = T.dmatrix("x")
    xv = RNG.standard_normal((3, 5))
    values, indices = nbgrad.function([x], list(topk_and_argtopk(x, kth, axis=1)))(xv)
    order = np.argsort(-xv if kth > 0 else xv, axis=1, kind="stable")[:, : abs(kth)]
    np.testing.assert_array_equal(indices, order)
    np.testing.assert_array_equal(values, np.take_along_axis(xv, order, 1))
    np.testing.assert_array_equal(nbgrad.function([x], T.topk(x, kth, axis=1))(xv), values)
    np.testing.assert_array_equal(nbgrad.function([x], T.argtopk(x, kth, axis=1))(xv), indices)


def test_topk_gradient_matches_finite_differences():
    verify_grad(lambda x: T.topk(x, 2, axis=0), [RNG.standard_normal((4, 3))], rng=RNG)


def test_topk_index_dtype():
    x = T.dvector("x")
    assert T.argtopk(x, 2, idx_dtype="int32").dtype == "int32"


def test_sort_of_a_batch_equals_the_sorts_of_its_rows():
    from nbgrad.vectorize import vectorize_graph

    x, xb = T.dvector("x"), T.dmatrix("xb")
    out = vectorize_graph([T.sort(x, descending=True), T.argsort(x)], {x: xb})
    xv = RNG.standard_normal((3, 5))
    values, indices = nbgrad.function([xb], out)(xv)
    np.testing.assert_array_equal(values, -np.sort(-xv, axis=1))
    np.testing.assert_array_equal(indices, np.argsort(xv, axis=1, kind="stable"))


def test_printing_names_the_sort_and_its_options():
    x = T.dmatrix("x")
    assert nbgrad.pp(T.sort(x, 0)) == "sort(x)"
    assert nbgrad.pp(T.argsort(x, descending=True)) == "argsort{axis=1, descending}(x)"
    assert "\\operatorname{sort}_{\\downarrow}" in nbgrad.printing.latex(T.sort(x, descending=True))
    assert "\\operatorname{argsort}" in nbgrad.printing.latex(T.argsort(x))


def test_errors_name_what_was_wrong():
    x = T.dmatrix("x")
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        T.sort(x, 2)
    with pytest.raises(ValueError, match="0-d"):
        T.sort(T.dscalar("s"))
    with pytest.raises(ValueError, match="kind must be one of"):
        T.argsort(x, kind="bubble")
    with pytest.raises(NotImplementedError, match="structured arrays"):
        T.sort(x, order="name")
    with pytest.raises(ValueError, match="kth must not be 0"):
        T.topk(x, 0)
    with pytest.raises(ValueError, match="out of range"):
        SortOp(3)(x)
    assert ArgSortOp(1, True) == ArgSortOp(1, True) != ArgSortOp(1)
