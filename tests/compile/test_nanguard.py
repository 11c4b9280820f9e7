"""NanGuardMode, Theano's module paths of the debugging modes, and how errors raised
inside a compiled call print."""

import traceback

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.compile.debugmode import DebugMode
from nbgrad.compile.nanguardmode import NanGuardError, NanGuardMode

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _affine(mode):
    x = T.dmatrix("x")
    w = nbgrad.shared(np.ones((3, 2)), name="w")
    return nbgrad.function([x], T.dot(x, w) * 2.0, mode=mode), w


def test_finite_values_pass_and_give_the_same_result():
    f, _ = _affine(NanGuardMode(nan_is_error=True, inf_is_error=True, big_is_error=True))
    np.testing.assert_allclose(f(np.ones((2, 3))), np.full((2, 2), 6.0))


@pytest.mark.parametrize("bad, says", [(np.inf, r"\+inf in input 0 \(x\)"), (np.nan, "NaN in input 0"),
                                       (1e12, "magnitude 1e\\+12")])
def test_a_bad_input_of_a_node_is_named(bad, says):
    f, _ = _affine(NanGuardMode())
    value = np.ones((2, 3))
    value[1, 2] = bad
    with pytest.raises(AssertionError, match=says) as info:
        f(value)
    assert isinstance(info.value, NanGuardError)
    assert "Dot" in str(info.value) and "T.dot(x, w)" in str(info.value)


def test_a_bad_output_is_caught_at_the_node_that_made_it():
    x = T.dvector("x")
    f = nbgrad.function([x], T.exp(x).sum(), mode=NanGuardMode())
    with pytest.raises(NanGuardError, match=r"\+inf in output 0 of .*exp"):
        f(np.array([1000.0]))


def test_each_check_can_be_turned_off():
    x = T.dvector("x")
    f = nbgrad.function([x], x * 2.0, mode=NanGuardMode(nan_is_error=False, inf_is_error=False,
                                                        big_is_error=False))
    assert np.isnan(f(np.array([np.nan]))[0])
    g = nbgrad.function([x], x * 2.0, mode=NanGuardMode(big_is_error=False))
    assert g(np.array([1e300]))[0] == 2e300
    with pytest.raises(NanGuardError, match="NaN"):
        g(np.array([np.nan]))


def test_integer_values_are_not_checked():
    i = T.lvector("i")
    f = nbgrad.function([i], i * 3, mode=NanGuardMode())
    assert f(np.array([10 ** 11])).tolist() == [3 * 10 ** 11]


def test_debug_mode_accepts_theanos_options_about_c_code():
    f, _ = _affine(DebugMode(check_c_code=False, check_py_code=True))
    np.testing.assert_allclose(f(np.ones((1, 3))), [[6.0, 6.0]])


def test_an_error_in_a_compiled_call_prints_as_its_original_class():
    x, y = T.dvector("x"), T.dvector("y")
    f = nbgrad.function([x, y], x * y)
    with pytest.raises(ValueError) as info:
        f(np.ones(2), np.ones(3))
    last = traceback.format_exception_only(type(info.value), info.value)[-1]
    assert last.startswith("ValueError: ")
    assert "while computing" in last


def test_mode_at_the_top_level_takes_theanos_arguments():
    x = T.dscalar("x")
    f = nbgrad.function([x], x * 2.0, mode=nbgrad.Mode(linker="vm", optimizer="fast_compile"))
    assert float(f(3.0)) == 6.0
