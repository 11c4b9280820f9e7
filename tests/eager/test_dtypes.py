"""Eager dtypes follow PyTorch: float32 by default, PyTorch's promotion of mixed operands."""

import numpy as np
import pytest

import nbgrad.eager as ne

try:
    import torch
except ImportError:  # the comparisons below need it
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


@pytest.fixture
def default_float64():
    ne.set_default_dtype(ne.float64)
    yield
    ne.set_default_dtype(ne.float32)


def test_python_floats_and_float_constructors_give_float32():
    assert ne.get_default_dtype() == np.float32
    for t in (ne.tensor([1.0]), ne.tensor(2.5), ne.randn(3), ne.rand(2), ne.zeros(2), ne.ones(2, 2),
              ne.arange(0.0, 1.0, 0.25), ne.eye(2), ne.full((2,), 1.5)):
        assert t.dtype == np.float32, t
    assert ne.tensor([1, 2]).dtype == np.int64
    assert ne.arange(3).dtype == np.int64
    assert ne.full((2,), 7).dtype == np.int64
    assert ne.tensor([True]).dtype == np.bool_
    assert ne.tensor(np.zeros(2)).dtype == np.float64  # NumPy arrays keep their dtype


def test_set_default_dtype(default_float64):
    assert ne.tensor([1.0]).dtype == np.float64
    assert (ne.arange(3) * 0.5).dtype == np.float64
    assert (ne.arange(3) / 2).dtype == np.float64
    assert "dtype" not in repr(ne.tensor([1.0]))
    assert "dtype=float32" in repr(ne.tensor([1.0], dtype=ne.float32))


def test_set_default_dtype_refuses_non_floats():
    with pytest.raises(TypeError, match="only floating dtypes"):
        ne.set_default_dtype(ne.int64)


def test_python_scalars_and_mixed_operands_promote_as_pytorch():
    f32 = ne.ones(3)
    i64 = ne.arange(3)
    f64 = ne.tensor(np.ones(3))
    assert (f32 * 2.5).dtype == np.float32
    assert (2.5 * f32).dtype == np.float32
    assert (i64 * 2.5).dtype == np.float32
    assert (i64 + 2).dtype == np.int64
    assert (i64 + f32).dtype == np.float32  # NumPy: float64
    assert (f32 + ne.tensor(2.0, dtype=ne.float64)).dtype == np.float32  # a 0-d tensor defers
    assert (f32 + f64).dtype == np.float64
    assert (i64 / 2).dtype == np.float32 and (i64 / (i64 + 1)).dtype == np.float32
    assert ne.exp(i64).dtype == np.float32
    assert (ne.tensor([True, False]) + 1).dtype == np.int64
    assert (ne.tensor(np.array([1, 2], dtype=np.int32)) * 3).dtype == np.int32
    assert ne.where(i64 > 0, f32, i64).dtype == np.float32


def test_mixed_operands_keep_their_gradients():
    w = ne.ones(3, requires_grad=True)
    (w * ne.arange(3)).sum().backward()
    assert w.grad.dtype == np.float32
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 1.0, 2.0])


def test_numpy_of_a_tensor_requiring_grad_raises_as_pytorch():
    w = ne.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Can't call numpy\(\) on Tensor that requires grad"):
        w.numpy()
    with pytest.raises(RuntimeError, match="requires grad"):
        np.asarray(w)
    assert w.detach().numpy().tolist() == [1.0, 1.0]
    assert w.tolist() == [1.0, 1.0] and (w * 1).sum().item() == 2.0


@needs_torch
@pytest.mark.parametrize("make", [
    lambda m: m.tensor([1.0]), lambda m: m.arange(3) * 0.5, lambda m: m.arange(3) / 2,
    lambda m: m.arange(3) + m.ones(3), lambda m: m.ones(3) * 2.5, lambda m: m.exp(m.arange(3)),
    lambda m: m.ones(3) + m.tensor(2.0, dtype=m.float64), lambda m: m.tensor([True]) + 1,
    lambda m: m.zeros(2), lambda m: m.randn(2), lambda m: m.full((2,), 7), lambda m: m.arange(0.0, 1.0),
])
def test_dtypes_agree_with_pytorch(make):
    ours, theirs = make(ne), make(torch)
    assert ours.dtype == np.dtype(str(theirs.dtype).replace("torch.", ""))
