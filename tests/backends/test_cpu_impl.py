"""The NumPy functions that fused kernels and single elementwise ops call (``cpu_impl``)."""

import numpy as np
import pytest

from nbgrad.backends import cpu_kernels
from nbgrad.scalar.basic import LogSigmoid, Reciprocal, Sigmoid, Softplus
from nbgrad.backends.cpu_kernels import cpu_impl

X = np.array([-1e308, -800.0, -40.0, -1.5, -1e-300, -0.0, 0.0, 1e-300, 2.5, 40.0, 800.0, 1e308,
              np.inf, -np.inf, np.nan])


def _reference_log_sigmoid(x):
    with np.errstate(all="ignore"):
        return np.negative(np.logaddexp(0, np.negative(x)))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_log_sigmoid_ufuncs_match_numpys_logaddexp_form_sign_of_zero_included(dtype):
    x = X.astype(dtype) if dtype == "float64" else np.clip(X, -3e38, 3e38).astype(dtype)
    with np.errstate(all="ignore"):
        got = cpu_kernels._log_sigmoid_ufuncs(x)
        into = cpu_kernels._log_sigmoid_ufuncs(x.copy(), out=np.empty_like(x))
        in_place = x.copy()
        cpu_kernels._log_sigmoid_ufuncs(in_place, out=in_place)  # an in-place kernel's call
    want = _reference_log_sigmoid(x)
    for r in (got, into, in_place):
        assert r.dtype == want.dtype
        np.testing.assert_allclose(r, want, rtol=4 * np.finfo(dtype).eps, atol=0)
        np.testing.assert_array_equal(np.signbit(r), np.signbit(want))


def test_log_sigmoid_ufuncs_of_a_0d_array_without_out():
    r = cpu_kernels._log_sigmoid_ufuncs(np.array(3.0))
    assert np.ndim(r) == 0 and r == pytest.approx(-np.log1p(np.exp(-3.0)), rel=1e-15)


def test_cpu_impl_uses_the_ufunc_forms_on_floats_only():
    fast = cpu_impl(Sigmoid(), ["float64"])
    assert fast.__code__ is cpu_kernels._sigmoid_ufuncs.__code__
    assert cpu_impl(Sigmoid(), ["float64"]) is fast  # made once per dtype
    assert getattr(cpu_impl(Sigmoid(), ["int64"]), "__code__", None) is not fast.__code__
    np.testing.assert_allclose(cpu_impl(Sigmoid(), ["int64"])(np.array([0, 1])), [0.5, 1 / (1 + np.exp(-1))])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_softplus_and_log_sigmoid_of_the_negation_cancel_exactly(dtype):
    # log(1 - sigmoid(x)) + log(1 + exp(x)) is 0: both ufunc forms round alike
    x = np.linspace(-30, 30, 601).astype(dtype)
    with np.errstate(all="ignore"):
        total = cpu_kernels._softplus_ufuncs(x) + cpu_kernels._log_sigmoid_ufuncs(-x)
        np.testing.assert_allclose(cpu_kernels._softplus_ufuncs(x), np.logaddexp(0, x),
                                   rtol=4 * np.finfo(dtype).eps)
    np.testing.assert_array_equal(total, 0)


@pytest.mark.parametrize("op", [Sigmoid(), Reciprocal(), LogSigmoid(), Softplus()])
@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
def test_typed_constants_give_what_python_numbers_give(op, dtype):
    # cpu_impl's forms take their constants as 0-d arrays of the input's dtype: the same
    # values and dtype as the forms with Python numbers, into out= or not, 0-d or not
    generic = {Sigmoid: cpu_kernels._sigmoid_ufuncs, Reciprocal: cpu_kernels._reciprocal_ufunc,
               LogSigmoid: cpu_kernels._log_sigmoid_ufuncs, Softplus: cpu_kernels._softplus_ufuncs}[type(op)]
    typed = cpu_impl(op, [dtype])
    assert typed is not generic
    for x in (np.linspace(-20, 20, 41).astype(dtype), np.array(0.5, dtype=dtype)):
        with np.errstate(all="ignore"):
            want = generic(x)
            got = typed(x)
            into = typed(x, out=np.empty_like(x))
        for r in (got, into):
            assert np.asarray(r).dtype == np.asarray(want).dtype == dtype
            np.testing.assert_array_equal(r, want)
