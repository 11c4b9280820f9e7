"""Typed symbolic constructors: kinds, dtype prefixes, plurals, ``T.tensor``."""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T

KINDS = {
    "scalar": (),
    "vector": (None,),
    "matrix": (None, None),
    "row": (1, None),
    "col": (None, 1),
    "tensor3": (None, None, None),
    "tensor4": (None, None, None, None),
}
PLURALS = {"scalar": "scalars", "vector": "vectors", "matrix": "matrices", "row": "rows",
           "col": "cols", "tensor3": "tensor3s", "tensor4": "tensor4s"}
PREFIXES = {
    "b": "int8", "w": "int16", "i": "int32", "l": "int64",
    "f": "float32", "d": "float64", "c": "complex64", "z": "complex128",
    "ub": "uint8", "uw": "uint16", "ui": "uint32", "ul": "uint64",
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_plain_kind_uses_floatx_and_static_shape(kind):
    v = getattr(T, kind)("v")
    assert v.name == "v"
    assert v.dtype == nbgrad.config.floatX
    assert v.type.shape == KINDS[kind]
    assert v.ndim == len(KINDS[kind])
    assert v.type.broadcastable == tuple(s == 1 for s in KINDS[kind])


@pytest.mark.parametrize("kind", list(KINDS))
def test_plain_kind_takes_dtype_positionally_and_by_keyword(kind):
    make = getattr(T, kind)
    assert make("a", "int32").dtype == "int32"
    assert make(name="a", dtype="float32").dtype == "float32"
    assert make(dtype="uint8").name is None


@pytest.mark.parametrize("prefix", list(PREFIXES))
@pytest.mark.parametrize("kind", list(KINDS))
def test_prefixed_constructors(prefix, kind):
    v = getattr(T, prefix + kind)("v")
    assert v.dtype == PREFIXES[prefix]
    assert v.type.shape == KINDS[kind]
    assert v.name == "v"


@pytest.mark.parametrize("prefix", ["", *PREFIXES])
@pytest.mark.parametrize("kind", list(KINDS))
def test_plurals_by_names_and_by_count(prefix, kind):
    many = getattr(T, prefix + PLURALS[kind])
    x, y, z = many("x", "y", "z")
    assert [v.name for v in (x, y, z)] == ["x", "y", "z"]
    assert len({x, y, z}) == 3
    unnamed = many(2)
    assert len(unnamed) == 2 and unnamed[0] is not unnamed[1]
    expected = PREFIXES.get(prefix, nbgrad.config.floatX)
    assert all(v.dtype == expected and v.type.shape == KINDS[kind] for v in (x, *unnamed))


def test_seed_plural_forms():
    x, y, z = T.dvectors("x", "y", "z")
    assert (x.dtype, y.ndim, z.name) == ("float64", 1, "z")
    a, b, c = T.dscalars(3)
    assert a.ndim == 0 and a.dtype == "float64" and len({a, b, c}) == 3


def test_tensor_with_static_shape():
    t = T.tensor("float32", (None, 3), name="X")
    assert t.type.shape == (None, 3)
    assert t.dtype == "float32" and t.name == "X"
    assert T.tensor(dtype="int64", shape=(2, None)).type.shape == (2, None)
    assert T.tensor("float64", shape=(1, 1)).type.broadcastable == (True, True)
    # Theano's broadcastable form
    assert T.tensor("float64", (False, True)).type.shape == (None, 1)
    assert T.tensor("float64").ndim == 0


def test_static_shape_is_checked_when_called():
    t = T.tensor("float64", (None, 3), name="X")
    f = nbgrad.function([t], t.sum())
    assert float(f(np.ones((2, 3)))) == 6.0
    with pytest.raises(ValueError, match=r"'X'.*expected shape \(\?, 3\)"):
        f(np.ones((2, 4)))


@pytest.mark.parametrize("shape", [(2.5,), (-1,), ("a",), 3])
def test_bad_static_shape_is_refused(shape):
    with pytest.raises(TypeError, match="shape"):
        T.tensor("float64", shape=shape)


def test_bad_dtype_and_name_are_refused():
    with pytest.raises(TypeError, match="unknown dtype 'foo'"):
        T.vector("x", dtype="foo")
    with pytest.raises(TypeError, match=r"name must be a string.*plural"):
        T.vector(3)
    with pytest.raises(TypeError, match="needs names or a count"):
        T.dvectors()


def test_types_print_like_theano():
    assert str(T.fscalar().type) == "TensorType(float32, scalar)"
    assert str(T.dmatrix().type) == "TensorType(float64, matrix)"
    assert str(T.drow().type) == "TensorType(float64, row)"
    assert str(T.lcol().type) == "TensorType(int64, col)"
