"""Eager tensors on a device, checked against a NumPy-backed stand-in for CuPy.

The stand-in device array refuses NumPy as CuPy arrays do (no implicit
conversion, no NumPy functions, no host arrays given to device functions), so
these tests fail wherever eager code calls NumPy on a device value instead of
going through the backend's ``xp``. ``test_gpu.py`` runs the same on a real
device.
"""

import importlib
import sys
import types

import numpy as np
import pytest

import nbgrad.backends as backends
import nbgrad.eager as ne
import nbgrad.tensor as T
from nbgrad.backends import BackendUnavailable
from nbgrad.backends.cupy_backend import CupyBackend
from nbgrad.eager.device import MixedDeviceError


class _Dev:
    """Device memory: a private NumPy array that NumPy itself may not touch."""

    __array_ufunc__ = None

    def __init__(self, a):
        self._a = np.asarray(a)

    @property
    def __cuda_array_interface__(self):
        return {"shape": self._a.shape, "typestr": self._a.dtype.str, "version": 3}

    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed")

    def __array_function__(self, func, types, args, kwargs):
        return NotImplemented

    shape = property(lambda self: self._a.shape)
    ndim = property(lambda self: self._a.ndim)
    dtype = property(lambda self: self._a.dtype)
    size = property(lambda self: self._a.size)
    base = property(lambda self: self._a.base)
    # like CuPy's flags: no ``writeable``
    flags = property(lambda self: types.SimpleNamespace(
        c_contiguous=self._a.flags.c_contiguous, f_contiguous=self._a.flags.f_contiguous,
        owndata=self._a.flags.owndata))

    def item(self):
        return self._a.item()

    def tolist(self):
        return self._a.tolist()

    def copy(self):
        return _Dev(self._a.copy())

    def astype(self, dtype):
        return _Dev(self._a.astype(dtype))

    def __getitem__(self, idx):
        return _wrap(self._a[_unwrap(idx)])

    def __setitem__(self, idx, value):
        self._a[_unwrap(idx)] = _unwrap(value)

    def __bool__(self):
        return bool(self._a)

    def __add__(self, o):
        return _Dev(self._a + _unwrap(o))

    __radd__ = __add__

    def __repr__(self):
        return f"_Dev({self._a!r})"


def _unwrap(v):
    if isinstance(v, _Dev):
        return v._a
    if isinstance(v, np.ndarray):
        raise TypeError(f"Unsupported type {type(v)}: a host array given to a device function")
    if isinstance(v, (tuple, list)):
        return type(v)(_unwrap(x) for x in v)
    return v


def _wrap(r):
    return _Dev(r) if isinstance(r, (np.ndarray, np.generic)) else r


class _FakeCupy(types.ModuleType):
    ndarray = _Dev

    def __init__(self):
        super().__init__("fakecupy")
        self.calls = []

    def asarray(self, a, dtype=None):
        if isinstance(a, _Dev):
            return a if dtype is None or a.dtype == dtype else a.astype(dtype)
        return _Dev(np.array(a, dtype=dtype))

    def array(self, a, dtype=None):
        return _Dev(np.array(a._a if isinstance(a, _Dev) else a, dtype=dtype))

    def asnumpy(self, a):
        return np.array(a._a if isinstance(a, _Dev) else a)

    def __getattr__(self, name):
        f = getattr(np, name)

        def call(*args, **kwargs):
            self.calls.append(name)
            return _wrap(f(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()}))

        return call


class _DeviceFunction:
    def __init__(self, run):
        self._fn = run

    def __call__(self, *args):
        return self._fn(*args)


@pytest.fixture
def gpu(monkeypatch):
    """A stand-in GPU backend; its compiled functions take and give device arrays only."""
    xp = _FakeCupy()
    b = CupyBackend.__new__(CupyBackend)
    b.xp, b.ndarray = xp, _Dev
    monkeypatch.setattr(backends, "_BACKENDS", {"gpu": b})
    fmod = importlib.import_module("nbgrad.compile.function")
    real = fmod.function
    compiled = []

    def function(inputs, outputs, backend=None, **kwargs):
        compiled.append((kwargs.get("name"), backend))
        if backend != "gpu":
            return real(inputs, outputs, backend=backend, **kwargs)
        f = real(inputs, outputs, backend="cpu", **kwargs)

        def run(*args):
            res = f._fn(*_unwrap(list(args)))
            return [_Dev(r) for r in res]

        return _DeviceFunction(run)

    # every module that compiles eager primitives holds its own reference to function
    for name in ("nbgrad.compile.function", "nbgrad.eager.primitive", "nbgrad.eager.trace"):
        monkeypatch.setattr(importlib.import_module(name), "function", function)
    b.compiled = compiled
    return b


@pytest.fixture
def no_cupy(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)
    monkeypatch.setattr(backends, "_BACKENDS", {})


def test_forward_and_backward_stay_on_the_device(gpu):
    vals = [[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]]
    results = {}
    for dev in ("cpu", "gpu"):
        x = ne.tensor(vals, requires_grad=True, device=dev)
        w = ne.ones(3, 2, device=dev, requires_grad=True)
        y = (ne.tanh(x) * x + 2) @ w  # the number 2 is copied to the device
        z = y[1].sum() + y.mean() * 3.0 + ne.exp(x).sum(axis=0).norm()
        z.backward()
        assert x.device == w.device == y.device == z.device == dev
        assert x.grad.device == w.grad.device == dev
        results[dev] = (z.item(), x.grad.numpy(), w.grad.numpy())
    assert type(ne.tensor([1.0], device="gpu")._data) is _Dev
    np.testing.assert_allclose(results["gpu"][0], results["cpu"][0])
    np.testing.assert_allclose(results["gpu"][1], results["cpu"][1])
    np.testing.assert_allclose(results["gpu"][2], results["cpu"][2])


def test_primitives_compile_once_per_backend_with_that_backend(gpu):
    f = ne.eager_function(lambda x: T.exp(x) * 3, "exp3")
    for _ in range(2):
        f(ne.tensor([1.0, 2.0]))
        f(ne.tensor([1.0, 2.0], device="gpu"))
    assert [c for c in gpu.compiled if c[0] == "exp3"] == [("exp3", "cpu"), ("exp3", "gpu")]
    ((prim, _),) = f.cache.values()
    assert sorted(prim._fns) == ["cpu", "gpu"]


def test_gradients_on_device_for_non_scalar_and_functional_grad(gpu):
    x = ne.tensor([1.0, 2.0, 3.0], requires_grad=True, device="gpu")
    (x * x).backward([1.0, 0.0, 2.0])  # a host gradient is copied over
    assert type(x.grad._data) is _Dev
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 0.0, 12.0])
    (dx,) = ne.grad((x ** 3).sum(), x, create_graph=True)
    (d2x,) = ne.grad(dx.sum(), x)
    assert dx.device == d2x.device == "gpu"
    np.testing.assert_allclose(d2x.numpy(), [6.0, 12.0, 18.0])


def test_in_place_updates_and_version_checks_on_device(gpu):
    w = ne.tensor([1.0, 2.0], requires_grad=True, device="gpu")
    (w * w).sum().backward()
    mem = w._data._a
    with ne.no_grad():
        w -= 0.1 * w.grad
    assert w._data._a is mem and w.version == 1 and "copyto" in gpu.xp.calls
    np.testing.assert_allclose(w.detach().numpy(), [0.8, 1.6])
    w.grad.zero_()
    np.testing.assert_allclose(w.grad.numpy(), [0.0, 0.0])
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [1.6, 3.2])
    with ne.no_grad():
        w[0] = 5.0
        w[ne.tensor(1, device="gpu")] = ne.tensor(7.0, device="gpu")
    np.testing.assert_allclose(w.detach().numpy(), [5.0, 7.0])

    x = ne.tensor([1.0, 2.0], requires_grad=True, device="gpu")
    a = x * 2
    b = a * a
    with ne.no_grad():
        a.mul_(10)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        b.sum().backward()


def test_mixing_devices_names_both(gpu):
    c, g = ne.ones(2), ne.ones(2, device="gpu")
    with pytest.raises(MixedDeviceError, match="'cpu' and 'gpu'.*x.to"):
        c + g
    with pytest.raises(MixedDeviceError, match="'cpu' and 'gpu'"):
        ne.dot(g, c)
    with ne.no_grad(), pytest.raises(MixedDeviceError, match="'cpu' and 'gpu'"):
        g.data  # noqa: B018
        g.copy_(c)
    y = g * 3
    with pytest.raises(MixedDeviceError, match="backward"):
        y.requires_grad_().backward(ne.ones(2))
    # numbers, NumPy arrays and 0-d CPU tensors are constants, copied to the device
    r = g + ne.tensor(2.0) + np.array([1.0, 2.0]) + 1
    assert r.device == "gpu" and r.numpy().tolist() == [5.0, 6.0]


def test_transfers_are_recorded_and_gradients_come_back(gpu):
    x = ne.tensor([1.0, 2.0], requires_grad=True)
    assert x.to("cpu") is x and x.cpu() is x
    xg = x.to("gpu")
    assert xg.device == "gpu" and not xg.is_leaf
    y = (xg ** 3).sum().cpu()
    assert y.device == "cpu"
    (g,) = ne.grad(y, x, create_graph=True)
    assert g.device == "cpu"
    np.testing.assert_allclose(g.detach().numpy(), [3.0, 12.0])
    g.sum().backward()
    assert type(x.grad._data) is np.ndarray
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 12.0])
    with ne.no_grad():
        assert not x.to("gpu").requires_grad


def test_host_copies_repr_and_no_implicit_conversion(gpu):
    t = ne.arange(3.0, device="gpu")
    h = t.numpy()
    assert type(h) is np.ndarray and h.tolist() == [0.0, 1.0, 2.0]
    h[0] = 9.0
    assert t.tolist() == [0.0, 1.0, 2.0]
    assert repr(t) == "tensor([0., 1., 2.], device='gpu')"
    with pytest.raises(TypeError, match=r"x.numpy\(\)"):
        np.asarray(t)
    assert bool(t.sum() > 2) and float(t[2]) == 2.0


def test_constructors_take_a_device(gpu):
    ne.manual_seed(3)
    a = ne.randn(2, 3, device="gpu")
    ne.manual_seed(3)
    b = ne.randn(2, 3)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    made = [ne.zeros(2, device="gpu"), ne.ones((2, 2), device="gpu"), ne.full(3, 7.0, device="gpu"),
            ne.eye(2, device="gpu"), ne.rand(size=(2,), device="gpu"), ne.zeros_like(a),
            ne.ones_like(a), ne.randn_like(a), ne.tensor(a), ne.as_tensor([1.0], device="gpu"),
            ne.arange(3, device="gpu")]
    assert all(type(t._data) is _Dev for t in made)
    assert ne.zeros_like(a, device="cpu").device == "cpu"
    assert ne.full(3, 7.0, device="gpu").numpy().tolist() == [7.0, 7.0, 7.0]
    with pytest.raises(RuntimeError, match="floating dtype"):
        ne.zeros(2, dtype="int64", device="gpu", requires_grad=True)


def test_trace_of_device_code_compiles_for_the_device(gpu):
    x = ne.tensor([1.0, 2.0], device="gpu")
    tr = ne.trace(lambda v: (v * 2).sum(), x)
    out = tr(ne.tensor([3.0, 4.0], device="gpu"))
    assert type(out) is _Dev and out.item() == 14.0
    assert ("<lambda>", "gpu") in gpu.compiled


def test_gpu_device_without_cupy_raises_with_install_hint(no_cupy):
    hint = r'pip install "nbgrad\[gpu\]"'
    with pytest.raises(BackendUnavailable, match=hint):
        ne.tensor([1.0], device="gpu")
    with pytest.raises(BackendUnavailable, match=hint):
        ne.zeros(2, device="gpu")
    with pytest.raises(BackendUnavailable, match=hint):
        ne.tensor([1.0]).to("gpu")
    with pytest.raises(BackendUnavailable, match=hint):
        ne.tensor([1.0]).cuda()
    with pytest.raises(ValueError, match="expected 'cpu' or 'gpu'"):
        ne.tensor([1.0], device="tpu")
