"""The GPU backend on a real CUDA device (skipped where CuPy or a device is missing)."""

import numpy as np
import pytest

from tests.conftest import requires_gpu

import nbgrad
import nbgrad.tensor as T

pytestmark = requires_gpu


@pytest.fixture
def cp():
    import cupy

    return cupy


def _cases():
    from tests.backends.test_cuda_codegen import CASES

    return CASES


def _inputs(comp, rng):
    out = []
    for v in comp.inputs:
        d = np.dtype(v.dtype)
        if d.kind == "f":
            out.append(rng.uniform(0.1, 0.9, 64).astype(d))
        elif d.kind == "b":
            out.append(rng.integers(0, 2, 64).astype(bool))
        else:
            out.append(rng.integers(1, 9, 64).astype(d))
    return out


def test_every_generated_kernel_matches_numpy(cp):
    rng = np.random.default_rng(0)
    for name, comp in _cases():
        args = _inputs(comp, rng)
        with np.errstate(all="ignore"):
            want = comp.impl(np)(*args)
        got = comp.impl(cp)(*[cp.asarray(a) for a in args])
        assert got.dtype == want.dtype, name
        tol = 1e-2 if "float16" in name or got.dtype == np.float16 else 1e-5
        np.testing.assert_allclose(cp.asnumpy(got).astype(float), np.asarray(want).astype(float),
                                   rtol=tol, atol=tol, equal_nan=True, err_msg=name)


def test_fused_function_matches_cpu_and_returns_device_arrays(cp):
    x = T.fvector("x")
    y = T.tanh(x) * T.exp(-x ** 2) + 1 / (1 + T.exp(-x))
    f_gpu = nbgrad.function([x], y, backend="gpu")
    f_cpu = nbgrad.function([x], y)
    xs = np.random.default_rng(1).standard_normal(1000).astype("float32")
    r = f_gpu(xs)
    assert isinstance(r, cp.ndarray)
    np.testing.assert_allclose(r.get(), f_cpu(xs), rtol=1e-5)
    np.testing.assert_allclose(f_gpu(cp.asarray(xs)).get(), f_cpu(xs), rtol=1e-5)


def test_kernels_cached_across_compilations(cp):
    from nbgrad.backends import cuda_codegen

    x = T.fvector("x")
    nbgrad.function([x], T.exp(x) * 3 + x, backend="gpu")(np.ones(3, "float32"))
    before = cuda_codegen.cache_info()["size"]
    x2 = T.fvector("x2")
    nbgrad.function([x2], T.exp(x2) * 3 + x2, backend="gpu")(np.ones(3, "float32"))
    assert cuda_codegen.cache_info()["size"] == before


def test_training_step_shared_on_device(cp):
    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((32, 5)), rng.standard_normal((32, 1))
    w = nbgrad.shared(np.zeros((5, 1)), name="w")
    xv, yv = T.dmatrix("X"), T.dmatrix("Y")
    loss = T.mean((T.dot(xv, w) - yv) ** 2)
    step = nbgrad.function([xv, yv], loss, updates=[(w, w - 0.1 * nbgrad.grad(loss, w))],
                           backend="gpu")
    w_cpu = nbgrad.shared(np.zeros((5, 1)))
    loss_c = T.mean((T.dot(xv, w_cpu) - yv) ** 2)
    step_cpu = nbgrad.function([xv, yv], loss_c,
                               updates=[(w_cpu, w_cpu - 0.1 * nbgrad.grad(loss_c, w_cpu))])
    for _ in range(5):
        lg, lc = step(X, Y), step_cpu(X, Y)
        np.testing.assert_allclose(float(lg), float(lc), rtol=1e-10)
    assert isinstance(w.get_value(borrow=True), cp.ndarray)
    assert isinstance(w.get_value(), np.ndarray)
    np.testing.assert_allclose(w.get_value(), w_cpu.get_value(), rtol=1e-10)
    w.set_value(cp.zeros((5, 1)))
    w.set_value(np.zeros((5, 1)))
    assert isinstance(w.get_value(borrow=True), cp.ndarray)


def test_random_streams_on_gpu(cp):
    from nbgrad.random import RandomStreams

    srng = RandomStreams(seed=3)
    u = srng.uniform((4, 3))
    f = nbgrad.function([], u, backend="gpu")
    a, b = f(), f()
    assert isinstance(a, cp.ndarray) and a.shape == (4, 3)
    assert not bool(cp.all(a == b))
    assert bool(cp.all((a >= 0) & (a < 1)))


def test_scan_on_gpu(cp):
    x = T.dvector("x")
    out, _ = nbgrad.scan(lambda v, acc: acc + v, sequences=x, outputs_info=T.constant(0.0))
    f = nbgrad.function([x], out, backend="gpu")
    np.testing.assert_allclose(f(np.arange(5.0)).get(), np.cumsum(np.arange(5.0)))


def test_nn_learner_on_gpu(cp):
    from nbgrad import nn

    old = nbgrad.config.backend
    nbgrad.config.backend = "gpu"
    try:
        X = np.linspace(-1, 1, 64).reshape(-1, 1)
        learner = nn.Learner(nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1)),
                             nn.mse_loss, nn.SGD(lr=0.1))
        losses = learner.fit(X, X ** 2, epochs=5, bs=16, progress=False)
    finally:
        nbgrad.config.backend = old
    assert losses[-1] < losses[0]
