"""Theano 1.0-era course code: truthiness of variables, import paths, the config tree."""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.config import IgnoredFlagWarning


# ----------------------------------------------------------------- bool(variable)
def test_variables_are_truthy_so_optional_arguments_work():
    """Classic model code: ``if not W: W = shared(...)``, ``if input: ...``."""

    def layer(x, W=None, b=None):
        if not W:
            W = nbgrad.shared(np.ones((2, 2)), name="W")
        if b:
            return x @ W + b
        return x @ W

    x, b = T.dmatrix("x"), T.dvector("b")
    assert bool(x) and bool(x + 1) and bool(T.constant(0.0)) and bool(nbgrad.shared(0.0))
    f = nbgrad.function([x, b], [layer(x), layer(x, b=b)])
    got = f(np.ones((1, 2)), np.array([1.0, 2.0]))
    np.testing.assert_allclose(got[0], [[2.0, 2.0]])
    np.testing.assert_allclose(got[1], [[3.0, 4.0]])


@pytest.mark.parametrize("make", [
    lambda a, b: a < b, lambda a, b: a <= b, lambda a, b: a > b, lambda a, b: a >= b,
    lambda a, b: T.eq(a, b), lambda a, b: T.neq(a, b),
])
def test_a_comparison_has_no_truth_value(make):
    a, b = T.dvectors("a", "b")
    with pytest.raises(TypeError, match="no truth value") as info:
        bool(make(a, b))
    msg = str(info.value)
    assert "T.and_" in msg and "&" in msg and "T.switch" in msg


def test_chained_comparison_raises_instead_of_dropping_the_first_test():
    a, b, c = T.dscalars("a", "b", "c")
    with pytest.raises(TypeError, match=r"a < b has no truth value.*a < b < c"):
        a < b < c  # noqa: B015
    with pytest.raises(TypeError, match="no truth value"):
        if a > 0:
            pass


# ------------------------------------------------------------------ import paths
@pytest.mark.parametrize("path", [
    "nbgrad.tensor.shared_randomstreams.RandomStreams",
    "nbgrad.scan_module.until",
    "nbgrad.scan_module.scan",
    "nbgrad.dot",
    "nbgrad.tensor.signal",
    "nbgrad.tensor.signal.pool.pool_2d",
    "nbgrad.tensor.signal.downsample.max_pool_2d",
    "nbgrad.tensor.nnet.conv.conv2d",
    "nbgrad.tensor.nnet.conv2d",
    "nbgrad.ifelse.ifelse",
    "nbgrad.sandbox.rng_mrg.MRG_RandomStreams",
])
def test_theano_attribute_paths_exist_after_import_nbgrad(path):
    code = (f"import nbgrad\nobj = nbgrad\nfor part in {path.split('.')[1:]!r}:\n"
            "    obj = getattr(obj, part)\nprint('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={k: v for k, v in os.environ.items() if not k.startswith("NBGRAD_")})
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


@pytest.mark.parametrize("stmt", [
    "from nbgrad.tensor.nnet.conv import conv2d",
    "from nbgrad.tensor.nnet import conv",
    "from nbgrad.tensor.signal import pool, downsample",
    "from nbgrad.tensor.signal.pool import pool_2d",
    "from nbgrad.tensor.signal.downsample import max_pool_2d",
    "from nbgrad.scan_module import until",
    "from nbgrad.ifelse import ifelse",
    "from nbgrad.sandbox.rng_mrg import MRG_RandomStreams",
    "from nbgrad.tensor.shared_randomstreams import RandomStreams",
    "import nbgrad.tensor.nnet.conv",
])
def test_theano_import_statements(stmt):
    exec(stmt, {})


@pytest.mark.parametrize("stmt, feature, instead", [
    ("import nbgrad.sparse", "sparse", "dense"),
    ("from nbgrad import sparse", "sparse", "dense"),
    ("nbgrad.sparse.csr_matrix", "sparse", "dense"),
    ("import nbgrad.gpuarray", "gpuarray", "device = 'cuda'"),
    ("nbgrad.gpuarray", "gpuarray", "backend='gpu'"),
    ("from nbgrad.d3viz import d3viz", "d3viz", "debugprint"),
    ("nbgrad.sandbox.cuda", "CUDA", "CuPy"),
])
def test_unsupported_subpackages_name_the_feature_and_the_alternative(stmt, feature, instead):
    with pytest.raises(ImportError) as info:
        exec(stmt, {"nbgrad": nbgrad})
    assert feature in str(info.value) and instead in str(info.value)


def test_pydotprint_raises_not_implemented_with_the_alternative():
    x = T.dscalar("x")
    with pytest.raises(NotImplementedError, match="debugprint"):
        nbgrad.printing.pydotprint(x ** 2, outfile="graph.png")


def test_scan_module_until_stops_a_scan():
    x = T.dscalar("x")
    vals, _ = nbgrad.scan_module.scan(
        lambda prev: (prev * 2, nbgrad.scan_module.until(prev * 2 > 10)), outputs_info=x, n_steps=20)
    np.testing.assert_allclose(nbgrad.function([x], vals)(1.0), [2.0, 4.0, 8.0, 16.0])


# ------------------------------------------------------------------------ config
def test_theano_flags_read_theano_defaults():
    c = nbgrad.config
    assert c.warn.sum_div_dimshuffle_bug is False
    assert c.warn.round is False
    assert c.optimizer == "fast_run"
    assert c.exception_verbosity == "low"
    assert c.compute_test_value == "off"
    assert c.print_test_value is False
    assert c.profile is False
    assert c.cast_policy == "custom"
    assert c.on_opt_error == "warn"
    assert c.openmp is False
    assert c.blas.ldflags == "" and c.gcc.cxxflags == ""
    assert c.nvcc.fastmath is False and c.dnn.enabled == "auto" and c.dnn.conv.algo_fwd == "small"
    assert c.lib.cnmem == 0.0
    assert c.device == "cpu"
    assert c.floatX == "float64"


def test_setting_an_ignored_flag_warns_once_and_keeps_the_value():
    c = nbgrad.config
    old = c.warn.sum_sum_bug
    try:
        with pytest.warns(IgnoredFlagWarning, match="warn.sum_sum_bug.*ignores"):
            c.warn.sum_sum_bug = True
        assert c.warn.sum_sum_bug is True
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            c.warn.sum_sum_bug = False  # the second time is silent
    finally:
        c._ignored.pop("warn.sum_sum_bug", None)
    assert c.warn.sum_sum_bug is old


@pytest.mark.parametrize("path, suggestion", [
    ("flaotX", "floatX"),
    ("optimiser", "optimizer"),
    ("warn.sum_div_dimshufle_bug", "warn.sum_div_dimshuffle_bug"),
    ("wran", "warn"),
    ("lib.cnmen", "lib.cnmem"),
    ("dnn.conv.algo_fw", "dnn.conv.algo_fwd"),
])
def test_misspelt_flag_suggests_the_right_name(path, suggestion):
    obj = nbgrad.config
    with pytest.raises(AttributeError, match=f"did you mean '{suggestion}'"):
        for part in path.split("."):
            obj = getattr(obj, part)
    head, _, last = path.rpartition(".")
    target = nbgrad.config
    for part in filter(None, head.split(".")):
        target = getattr(target, part)
    with pytest.raises(AttributeError, match=f"did you mean '{suggestion}'"):
        setattr(target, last, 1)


def test_floatx_still_checked_and_device_selects_the_backend():
    c = nbgrad.config
    with pytest.raises(ValueError, match="must be one of"):
        c.floatX = "float128"
    with c.change_flags(floatX="float32"):
        assert T.matrix().dtype == "float32"
    assert c.floatX == "float64"
    old = c.backend
    try:
        c.device = "cuda0"
        assert c.backend == "gpu" and c.device == "cuda"
        c.device = "cpu"
        assert c.backend == "cpu"
        with pytest.raises(ValueError, match="'cpu' or 'cuda'"):
            c.device = "opencl0:0"
    finally:
        c.backend = old


def test_flags_set_with_change_flags_are_restored():
    c = nbgrad.config
    with pytest.warns(IgnoredFlagWarning):
        with c.change_flags(**{"warn.round": True, "exception_verbosity": "high"}):
            assert c.warn.round is True and c.exception_verbosity == "high"
    assert c.warn.round is False and c.exception_verbosity == "low"

