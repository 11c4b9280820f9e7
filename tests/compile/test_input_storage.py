"""Stored input values of a compiled function (``f[x]``, ``f.value``, ``f.container``)
and Theano's tuple shorthands for inputs with defaults and updates."""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.compile.io import In, as_in


def _counter():
    step, scale, total = T.dscalars("step", "scale", "total")
    f = nbgrad.function([step, In(scale, value=2.0), In(total, value=1.0, update=total + scale * step)], [])
    return f, step, scale, total


def test_stored_values_read_by_variable_name_and_position():
    f, step, scale, total = _counter()
    assert f(4.0) == []
    assert float(f[total]) == 9.0
    assert float(f["total"]) == 9.0
    assert float(f.value[2]) == 9.0
    assert f[total] is f.value[total] is f.container["total"].value
    assert f[step] is None  # an input without a stored value


def test_an_argument_overrides_a_default_for_one_call_only():
    f, step, scale, total = _counter()
    f(1.0, 10.0)
    assert float(f[total]) == 11.0
    assert float(f[scale]) == 2.0
    f(1.0, 10.0, 0.0)  # a value for the state replaces it for this call
    assert float(f[total]) == 10.0


def test_assigning_a_stored_value_converts_it_and_the_next_call_uses_it():
    f, step, scale, total = _counter()
    f[total] = 5
    assert isinstance(f[total], np.ndarray) and f[total].dtype == np.float64
    f(1.0)
    assert float(f["total"]) == 7.0
    f.value["scale"] = 0.5
    f.container[total].value = 0.0
    f(4.0)
    assert float(f[total]) == 2.0


def test_assigning_gives_a_required_input_a_default():
    x, y = T.dscalars("x", "y")
    f = nbgrad.function([x, y], x * y)
    f["y"] = 3.0
    assert float(f(2.0)) == 6.0


def test_unknown_keys_and_bad_values_are_explained():
    f, step, scale, total = _counter()
    with pytest.raises(KeyError, match="no input 'nope'.*'step', 'scale', 'total'"):
        f["nope"]
    with pytest.raises(KeyError, match="position"):
        f.value[3]
    with pytest.raises(KeyError):
        f[T.dscalar("other")]
    with pytest.raises(TypeError, match="stored value of input 2"):
        f[total] = "abc"
    assert "total" in f.value and "nope" not in f.value and len(f.value) == 3


def test_tuple_shorthands_for_inputs():
    x, y, acc = T.dscalars("x", "y", "acc")
    w = T.dscalar()
    f = nbgrad.function([x, ("why", y), ((acc, acc + x), 0.0), ("weight", w, 10.0)], x + y + w)
    assert float(f(1.0, 2.0)) == 13.0
    assert float(f(1.0, why=2.0, weight=0.0)) == 3.0
    assert float(f["acc"]) == 2.0
    named_state = as_in(("s", (acc, acc * 2.0), 1.0))
    assert (named_state.name, named_state.value) == ("s", 1.0)
    assert named_state.variable is acc and named_state.update is not None


@pytest.mark.parametrize("spec, match", [
    ((1.0, 2.0), "expected a symbolic variable"),
    (("a", "b", "c", "d"), "tuples"),
    ((T.dscalar(), T.dscalar(), 1.0), "3-tuple"),
    (((T.dscalar(),), 1.0), "stateful form"),
    ([T.dscalar()], "got list"),
])
def test_malformed_input_specs_are_explained(spec, match):
    with pytest.raises(TypeError, match=match):
        as_in(spec)
