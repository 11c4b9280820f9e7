"""Backend selection, clear errors where the GPU is missing, and the GPU input/shared-state rules.

The GPU rules are checked here against a NumPy-backed stand-in for CuPy (so they
run on every machine); ``test_gpu.py`` checks the same on a real device.
"""

import sys
import types

import numpy as np
import pytest

import nbgrad
import nbgrad.backends as backends
import nbgrad.tensor as T
from nbgrad.backends import BackendUnavailable, available_backends, get_backend
from nbgrad.backends.cupy_backend import CupyBackend
from nbgrad.backends.numpy_backend import NumpyBackend


@pytest.fixture
def no_cupy(monkeypatch):
    """CuPy cannot be imported (as on a machine without the GPU extra)."""
    monkeypatch.setitem(sys.modules, "cupy", None)
    monkeypatch.setattr(backends, "_BACKENDS", {})


def _fake_cupy(device_count):
    cupy = types.ModuleType("cupy")
    runtime = types.SimpleNamespace(getDeviceCount=device_count)
    cupy.cuda = types.SimpleNamespace(runtime=runtime)
    cupy.ndarray = type("ndarray", (), {})
    return cupy


def test_cpu_backend():
    b = get_backend("cpu")
    assert isinstance(b, NumpyBackend) and b.xp is np
    assert get_backend("numpy") is b
    x = np.ones(2)
    assert b.to_device(x) is x and b.to_host(x) is x


def test_unknown_backend_name():
    with pytest.raises(ValueError, match="expected 'cpu' or 'gpu'"):
        get_backend("tpu")


def test_gpu_without_cupy_names_the_install(no_cupy):
    with pytest.raises(BackendUnavailable, match=r'needs CuPy.*pip install "nbgrad\[gpu\]"'):
        get_backend("gpu")
    assert available_backends() == ["cpu"]


def test_gpu_without_device(monkeypatch):
    def fail():
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

    monkeypatch.setattr(backends, "_BACKENDS", {})
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(fail))
    with pytest.raises(BackendUnavailable, match="no usable CUDA device.*nvidia-smi"):
        get_backend("gpu")
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(lambda: 0))
    with pytest.raises(BackendUnavailable, match="no CUDA device on this machine"):
        get_backend("gpu")


def test_function_on_missing_gpu_raises(no_cupy):
    x = T.dvector("x")
    with pytest.raises(BackendUnavailable, match=r"nbgrad\[gpu\]"):
        nbgrad.function([x], T.exp(x) * 2, backend="gpu")


def test_config_backend_gpu_on_missing_gpu_raises(no_cupy):
    x = T.dvector("x")
    old = nbgrad.config.backend
    nbgrad.config.backend = "gpu"
    try:
        with pytest.raises(BackendUnavailable, match="CuPy"):
            nbgrad.function([x], x + 1)
        with pytest.raises(BackendUnavailable, match="CuPy"):
            nbgrad.shared(np.zeros(3))
    finally:
        nbgrad.config.backend = old
    assert nbgrad.function([x], x + 1)([1.0]).tolist() == [2.0]


def test_shared_target_gpu_on_missing_gpu_raises(no_cupy):
    with pytest.raises(BackendUnavailable):
        nbgrad.shared(np.zeros(3), target="gpu")


# ------------------------------------------------- the GPU rules, on a stand-in device
class _DeviceArray(np.ndarray):
    """A NumPy array posing as device memory."""

    @property
    def __cuda_array_interface__(self):
        return {}

    def get(self):
        return np.array(self.view(np.ndarray))


def _to_dev(v, dtype=None):
    return np.array(v, dtype=dtype).view(_DeviceArray)


@pytest.fixture
def fake_gpu(monkeypatch):
    xp = types.SimpleNamespace(__name__="fakecupy", ndarray=_DeviceArray, asarray=_to_dev,
                               asnumpy=lambda v: np.array(v.view(np.ndarray)))
    b = CupyBackend.__new__(CupyBackend)
    b.xp, b.ndarray = xp, _DeviceArray
    monkeypatch.setattr(backends, "_BACKENDS", {"gpu": b})
    return b


def test_device_inputs_pass_untouched_host_inputs_copied_once(fake_gpu):
    ttype = T.TensorType("float32", (None,))
    check = fake_gpu.make_filter(ttype, False, None, "input 0 ('x')")
    d = _to_dev([1.0, 2.0], "float32")
    assert check(d) is d
    h = np.array([1.0, 2.0], dtype="float32")
    r = check(h)
    assert type(r) is _DeviceArray and not np.shares_memory(r, h)
    assert check([1, 2]).dtype == np.float32


def test_device_input_checks(fake_gpu):
    check = fake_gpu.make_filter(T.TensorType("float64", (None,)), False, None, "input 0 ('x')")
    assert check(_to_dev([1, 2], "int32")).dtype == np.float64  # safe cast, on the device
    with pytest.raises(TypeError, match=r"input 0 \('x'\): expected 1 dimension"):
        check(_to_dev([[1.0]]))
    check32 = fake_gpu.make_filter(T.TensorType("float32", (2,)), False, None, "input 1")
    with pytest.raises(TypeError, match="float64 to float32 without loss of precision"):
        check32(_to_dev([1.0, 2.0]))
    with pytest.raises(ValueError, match="expected shape"):
        check32(_to_dev([1.0, 2.0, 3.0], "float32"))
    strict = fake_gpu.make_filter(T.TensorType("float32", (None,)), True, None, "input 2")
    with pytest.raises(TypeError, match="strict"):
        strict(_to_dev([1, 2], "int32"))


def test_device_shared_variable(fake_gpu):
    w = nbgrad.shared(np.array([1.0, 2.0]), name="w", target="gpu")
    assert type(w.get_value(borrow=True)) is _DeviceArray
    v = w.get_value()
    assert type(v) is np.ndarray and v.tolist() == [1.0, 2.0]
    w.set_value(np.array([3.0, 4.0]))
    assert type(w.get_value(borrow=True)) is _DeviceArray
    d = _to_dev([5.0, 6.0])
    w.set_value(d)
    assert w.get_value(borrow=True) is not d and w.get_value().tolist() == [5.0, 6.0]
    w.set_value(d, borrow=True)
    assert w.get_value(borrow=True) is d
    with pytest.raises(TypeError, match="shared variable 'w'"):
        w.set_value(np.zeros((2, 2)))


def test_host_shared_moves_to_device_once(fake_gpu):
    s = nbgrad.shared(np.zeros(2), name="s")
    cell = s.container
    fake_gpu.place_shared(cell)
    moved = cell[0]
    assert type(moved) is _DeviceArray
    fake_gpu.place_shared(cell)
    assert cell[0] is moved
    assert type(s.get_value()) is np.ndarray
