"""Theano 1.0's tensor API: types as constructors, plurals, shape helpers, stacking, grids."""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T

rng = np.random.default_rng(7)


# --- TensorType and the typed constructors ------------------------------------------
def test_tensor_type_takes_a_broadcastable_pattern_positionally():
    t = T.TensorType("float64", (False, True))
    assert t.shape == (None, 1)
    assert t.broadcastable == (False, True)
    assert t == T.TensorType("float64", shape=(None, 1))
    assert T.TensorType("float32", (True,)).shape == (1,)
    assert T.TensorType("int64", broadcastable=(True, False, False)).shape == (1, None, None)
    assert T.TensorType("float64", ()).ndim == 0


def test_tensor_type_pattern_and_shape_must_agree():
    assert T.TensorType("float64", (None, 1), broadcastable=(False, True)).shape == (None, 1)
    with pytest.raises(TypeError, match="disagree"):
        T.TensorType("float64", (None, None), broadcastable=(False, True))
    with pytest.raises(TypeError, match="broadcastable must be a tuple of bools"):
        T.TensorType("float64", broadcastable=(1, None))


def test_a_tensor_type_makes_variables_when_called():
    mytype = T.TensorType("float64", (False, True))
    a, b = mytype("a"), mytype()
    assert a.type is mytype and b.type is mytype
    assert a.name == "a" and b.name is None
    f = nbgrad.function([a], a * 2)
    np.testing.assert_array_equal(f(np.ones((3, 1))), np.full((3, 1), 2.0))
    with pytest.raises(TypeError, match="name must be a string"):
        mytype(3)


@pytest.mark.parametrize("name, dtype, shape", [
    ("dscalar", "float64", ()), ("fvector", "float32", (None,)), ("imatrix", "int32", (None, None)),
    ("lrow", "int64", (1, None)), ("bcol", "int8", (None, 1)), ("ztensor3", "complex128", (None,) * 3),
    ("wtensor4", "int16", (None,) * 4), ("ubvector", "uint8", (None,)),
])
def test_prefixed_constructors_are_tensor_types(name, dtype, shape):
    ttype = getattr(T, name)
    assert isinstance(ttype, T.TensorType)
    assert (ttype.dtype, ttype.shape) == (dtype, shape)
    v = ttype("v")
    assert v.type is ttype
    assert v.type == ttype
    assert ttype(name="w").name == "w"
    assert ttype().name is None


def test_identity_of_types_as_course_code_checks_it():
    x = T.dscalar("x")
    assert x.type is T.dscalar
    assert (x * 2).type == T.dscalar
    assert T.dvector("v").sum().type == T.dscalar
    assert T.dmatrix().type != T.fmatrix
    assert T.dvector("v").dimshuffle("x", 0).type == T.drow


def test_plain_constructors_follow_floatx_at_call_time():
    old = nbgrad.config.floatX
    try:
        nbgrad.config.floatX = "float32"
        assert T.vector("v").dtype == "float32"
        assert T.matrix().type == T.fmatrix
    finally:
        nbgrad.config.floatX = old
    assert T.vector("v").dtype == old


@pytest.mark.parametrize("make, names", [
    (T.scalars, "xys"), (T.dmatrices, "abcd"), (T.fvectors, "uv"), (T.tensor3s, "pq"),
])
def test_plural_of_one_string_makes_one_variable_per_character(make, names):
    made = make(names)
    assert [v.name for v in made] == list(names)
    assert len(set(made)) == len(names)


def test_plural_of_separated_names_and_of_several_arguments():
    assert [v.name for v in T.dscalars("alpha, beta")] == ["alpha", "beta"]
    assert [v.name for v in T.dscalars("alpha beta gamma")] == ["alpha", "beta", "gamma"]
    assert [v.name for v in T.dvectors("xs", "ys")] == ["xs", "ys"]
    assert [v.name for v in T.lvectors(3)] == [None, None, None]
    assert all(v.type is T.lvector for v in T.lvectors(3))
    assert T.matrices("ab", dtype="int32")[1].dtype == "int32"


# --- shape helpers -----------------------------------------------------------------------
def test_specify_shape_gives_static_sizes_and_checks_them():
    x = T.dmatrix("x")
    y = T.specify_shape(x, (3, None))
    assert y.type.shape == (3, None)
    value = rng.normal(size=(3, 5))
    f = nbgrad.function([x], y * 2)
    np.testing.assert_allclose(f(value), value * 2)
    with pytest.raises(ValueError, match=r"specify_shape: 'x' has shape \(4, 5\).*axis 0.*3"):
        f(rng.normal(size=(4, 5)))


def test_specify_shape_with_symbolic_sizes_and_a_shape_vector():
    x, z = T.dvector("x"), T.dvector("z")
    y = T.specify_shape(x, z.shape)
    f = nbgrad.function([x, z], y + 1)
    np.testing.assert_allclose(f(np.zeros(3), np.ones(3)), np.ones(3))
    with pytest.raises(ValueError, match="specify_shape"):
        f(np.zeros(3), np.ones(2))
    # a size of 1 made static broadcasts afterwards
    col = T.specify_shape(T.dmatrix("m"), (None, 1))
    assert col.broadcastable == (False, True)


def test_specify_shape_gradient_passes_through():
    x = T.dvector("x")
    g = T.grad((T.specify_shape(x, (3,)) ** 2).sum(), x)
    np.testing.assert_allclose(g.eval({x: np.array([1.0, 2.0, 3.0])}), [2.0, 4.0, 6.0])


def test_specify_shape_refuses_a_wrong_number_of_entries():
    with pytest.raises(ValueError, match="has 2 dimension.*3 entries"):
        T.specify_shape(T.dmatrix(), (1, 2, 3))
    with pytest.raises(TypeError, match="integer scalar"):
        T.specify_shape(T.dvector(), (T.dscalar(),))


@pytest.mark.parametrize("shape", [(4,), (2, 3), ()])
def test_shape_pads_match_numpy(shape):
    value = rng.normal(size=shape)
    x = T.tensor("float64", (None,) * len(shape), name="x")
    cases = [
        (T.shape_padleft(x), value[None]),
        (T.shape_padleft(x, 2), value[None, None]),
        (T.shape_padright(x), value[..., None]),
        (T.shape_padright(x, 3), value[..., None, None, None]),
        (T.shape_padaxis(x, 0), np.expand_dims(value, 0)),
        (T.shape_padaxis(x, -1), np.expand_dims(value, -1)),
    ]
    if len(shape) == 2:
        cases.append((T.shape_padaxis(x, 1), np.expand_dims(value, 1)))
    for expr, expected in cases:
        got = expr.eval({x: value})
        assert got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)
        added = [i for i, (a, b) in enumerate(zip(expr.type.shape, (None,) * expr.ndim)) if a == 1]
        assert all(expected.shape[i] == 1 for i in added)


def test_shape_pads_are_broadcastable():
    v = T.dvector("v")
    assert T.shape_padleft(v).broadcastable == (True, False)
    assert T.shape_padright(v, 2).broadcastable == (False, True, True)
    assert T.shape_padaxis(T.dmatrix(), 1).broadcastable == (False, True, False)
    with pytest.raises(IndexError, match="out of range"):
        T.shape_padaxis(v, 3)
    with pytest.raises(TypeError, match="non-negative int"):
        T.shape_padleft(v, -1)


# --- stacking ----------------------------------------------------------------------------
def test_stack_takes_separate_arguments_or_a_list():
    a, b, c = T.dscalars("abc")
    vals = {a: 1.0, b: 2.0, c: 3.0}
    np.testing.assert_array_equal(T.stack(a, b, c).eval(vals), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(T.stack([a, b, c]).eval(vals), [1.0, 2.0, 3.0])


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
def test_stack_axis_matches_numpy(axis):
    xs = [rng.normal(size=(2, 3)) for _ in range(4)]
    vs = T.dmatrices(4)
    expected = np.stack(xs, axis=axis)
    for expr in (T.stack(vs, axis=axis), T.stack(vs, axis), T.stack(*vs, axis=axis)):
        np.testing.assert_array_equal(expr.eval(dict(zip(vs, xs))), expected)


def test_stack_errors_say_what_to_do():
    a, b = T.dvectors("ab")
    with pytest.raises(ValueError, match="at least one"):
        T.stack()
    with pytest.raises(ValueError, match="same number of dimensions"):
        T.stack(a, T.dmatrix())
    with pytest.raises(ValueError, match="out of range"):
        T.stack([a, b], axis=3)
    with pytest.raises(TypeError, match="one list"):
        T.stack([a], b)


def test_stacklists_builds_a_matrix_from_nested_lists_of_scalars():
    a, b, c, d = T.dscalars("abcd")
    m = T.stacklists([[a, b], [c, d]])
    f = nbgrad.function([a, b, c, d], m)
    np.testing.assert_array_equal(f(1, 2, 3, 4), np.array([[1.0, 2.0], [3.0, 4.0]]))


def test_stacklists_of_matrices_gives_a_four_dimensional_tensor():
    ms = T.dmatrices("abcd")
    vals = [rng.normal(size=(2, 2)) for _ in ms]
    got = T.stacklists([[ms[0], ms[1]], [ms[2], ms[3]]]).eval(dict(zip(ms, vals)))
    np.testing.assert_array_equal(got, np.array([[vals[0], vals[1]], [vals[2], vals[3]]]))
    assert got.shape == (2, 2, 2, 2)


# --- mgrid / ogrid -----------------------------------------------------------------------
@pytest.mark.parametrize("key", [
    (slice(0, 5), slice(0, 3)),
    (slice(1, 7, 2), slice(-2, 2), slice(0, 1)),
    (slice(0, 1, 0.25), slice(3, 0, -1)),
    (slice(-1, 1, 5j), slice(0, 2)),
    slice(2, 9, 3),
])
@pytest.mark.parametrize("which", ["mgrid", "ogrid"])
def test_grids_match_numpy(which, key):
    got = getattr(T, which)[key]
    expected = getattr(np, which)[key]
    if isinstance(key, slice):
        got, expected = [got], [expected]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        value = g.eval()
        assert value.shape == e.shape
        assert value.dtype == e.dtype
        np.testing.assert_allclose(value, e)


def test_ogrid_members_broadcast_against_each_other():
    i, j = T.ogrid[0:4, 0:3]
    assert i.broadcastable == (False, True) and j.broadcastable == (True, False)
    np.testing.assert_array_equal((i * 10 + j).eval(), np.arange(4)[:, None] * 10 + np.arange(3))


def test_grids_with_symbolic_bounds():
    n, m = T.lscalars("nm")
    rows, cols = T.mgrid[0:n, 1:m]
    f = nbgrad.function([n, m], [rows, cols])
    for nv, mv in ((3, 4), (2, 6)):
        for g, e in zip(f(nv, mv), np.mgrid[0:nv, 1:mv]):
            np.testing.assert_array_equal(g, e)
    r, c = T.ogrid[0:n, 0:m]
    np.testing.assert_array_equal((r + c).eval({n: 2, m: 3}), np.add(*np.ogrid[0:2, 0:3]))


def test_grids_refuse_what_is_not_a_slice():
    with pytest.raises(TypeError, match=r"mgrid\[...\] takes slices"):
        T.mgrid[0, 1:3]
    with pytest.raises(ValueError, match="needs a stop"):
        T.ogrid[0:]


# --- softmax of a vector -------------------------------------------------------------------
def test_softmax_of_a_vector_is_a_row_as_in_theano():
    v = T.dvector("v")
    p = T.nnet.softmax(v)
    assert p.type.shape == (1, None)
    value = rng.normal(size=5)
    e = np.exp(value - value.max())
    np.testing.assert_allclose(p.eval({v: value}), (e / e.sum())[None, :])
    # indexing it as a matrix, as Theano code does
    np.testing.assert_allclose(p[0, 2].eval({v: value}), e[2] / e.sum())


def test_softmax_with_an_axis_keeps_the_shape():
    v, m = T.dvector("v"), T.dmatrix("m")
    assert T.nnet.softmax(v, axis=-1).type.shape == (None,)
    assert T.nnet.softmax(v, axis=0).ndim == 1
    assert T.nnet.softmax(m).ndim == 2
    value = rng.normal(size=(3, 4))
    e = np.exp(value)
    np.testing.assert_allclose(T.nnet.softmax(m).eval({m: value}), e / e.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(T.nnet.softmax(m, axis=0).eval({m: value}), e / e.sum(axis=0))


def test_gradient_through_the_softmax_row_of_a_vector():
    v = T.dvector("v")
    cost = -T.log(T.nnet.softmax(v)[0, 1])
    value = np.array([0.5, -1.0, 2.0])
    e = np.exp(value) / np.exp(value).sum()
    np.testing.assert_allclose(T.grad(cost, v).eval({v: value}), e - np.eye(3)[1])
