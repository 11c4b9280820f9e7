"""Eager tensors on a real CUDA device (skipped where CuPy or a device is missing)."""

import numpy as np
import pytest

from tests.conftest import requires_gpu

import nbgrad.eager as ne
from nbgrad.eager.device import MixedDeviceError

pytestmark = requires_gpu


@pytest.fixture
def cp():
    import cupy

    return cupy


def _mlp_grads(device):
    ne.manual_seed(0)
    x = ne.randn(8, 4, device=device)
    w1 = ne.randn(4, 16, device=device, requires_grad=True)
    w2 = ne.randn(16, 3, device=device, requires_grad=True)
    loss = (ne.tanh(x @ w1) @ w2).exp().sum(axis=1).log().mean() + 0.5 * (w1 * w1).sum()
    loss.backward()
    return loss, w1, w2


def test_training_step_matches_cpu_and_stays_on_device(cp):
    lg, w1g, w2g = _mlp_grads("gpu")
    lc, w1c, w2c = _mlp_grads("cpu")
    assert isinstance(w1g.grad._data, cp.ndarray) and w2g.grad.device == "gpu"
    np.testing.assert_allclose(lg.item(), lc.item(), rtol=1e-5)
    np.testing.assert_allclose(w1g.grad.numpy(), w1c.grad.numpy(), rtol=1e-4, atol=1e-5)
    mem = w1g._data
    with ne.no_grad():
        w1g -= 0.1 * w1g.grad
    assert w1g._data is mem and w1g.version == 1
    w1g.grad.zero_()
    assert float(abs(w1g.grad).sum()) == 0.0


def test_version_check_and_mixing_on_device(cp):
    x = ne.tensor([1.0, 2.0], requires_grad=True, device="gpu")
    a = x * 2
    b = a * a
    with ne.no_grad():
        a.mul_(10)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        b.sum().backward()
    with pytest.raises(MixedDeviceError, match="'cpu' and 'gpu'"):
        x + ne.ones(2)


def test_transfer_and_higher_derivatives(cp):
    x = ne.tensor([1.0, 2.0], requires_grad=True)
    y = (x.to("gpu") ** 3).sum()
    (g,) = ne.grad(y, x, create_graph=True)
    assert g.device == "cpu"
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 12.0])
    t = ne.tensor(cp.arange(3.0))
    assert t.device == "gpu" and type(t.numpy()) is np.ndarray
