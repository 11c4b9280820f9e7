"""PyTorch's signatures and results: dim/keepdim, (values, indices), transpose of two dims, ..."""

import numpy as np
import pytest

import nbgrad.eager as ne

try:
    import torch
except ImportError:  # the comparisons below need it
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

A = np.arange(24.0).reshape(2, 3, 4) ** 1.5 % 7  # no ties along any axis


def test_transpose_swaps_two_dimensions():
    m = ne.tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(m.transpose(0, 1).numpy(), np.arange(6.0).reshape(2, 3).T)
    np.testing.assert_array_equal(ne.transpose(m, 1, 0).numpy(), m.numpy().T)
    x = ne.tensor(A)
    assert x.transpose(0, 1).shape == (3, 2, 4)
    assert x.transpose(-1, 0).shape == (4, 3, 2)
    np.testing.assert_array_equal(x.transpose(0, 2).numpy(), A.swapaxes(0, 2))
    np.testing.assert_array_equal(x.permute(2, 0, 1).numpy(), A.transpose(2, 0, 1))
    np.testing.assert_array_equal(x.permute((2, 0, 1)).numpy(), A.transpose(2, 0, 1))
    np.testing.assert_array_equal(x.mT.numpy(), A.swapaxes(-1, -2))
    np.testing.assert_array_equal(m.t().numpy(), m.numpy().T)
    np.testing.assert_array_equal(m.T.numpy(), m.numpy().T)
    with pytest.raises(RuntimeError, match="t\\(\\) expects a tensor with <= 2 dimensions"):
        x.t()
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.transpose(0, 3)
    with pytest.raises(RuntimeError, match="each of the 3 dimensions once"):
        x.permute(0, 0, 1)


def test_transpose_gradient():
    w = ne.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    (w.transpose(0, 1) * ne.tensor(np.arange(6.0).reshape(3, 2))).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.arange(6.0).reshape(3, 2).T)


def test_flatten_keeps_the_dimensions_before_start_dim():
    x = ne.tensor(A)
    assert x.flatten().shape == (24,)
    assert x.flatten(1).shape == (2, 12)
    assert ne.flatten(x, 1).shape == (2, 12)
    assert ne.flatten(x, start_dim=0, end_dim=1).shape == (6, 4)
    assert x.flatten(-2, -1).shape == (2, 12)
    assert ne.tensor(3.0).flatten().shape == (1,)
    np.testing.assert_array_equal(x.flatten(0, 1).numpy(), A.reshape(6, 4))


def test_max_and_min_over_a_dim_give_values_and_indices():
    x = ne.tensor(A)
    out = x.max(dim=1)
    np.testing.assert_array_equal(out.values.numpy(), A.max(axis=1))
    np.testing.assert_array_equal(out.indices.numpy(), A.argmax(axis=1))
    values, indices = ne.max(x, 1)
    assert indices.dtype == np.int64 and values.shape == (2, 4)
    values, indices = ne.min(x, -1, keepdim=True)
    assert values.shape == (2, 3, 1)
    np.testing.assert_array_equal(indices.numpy(), A.argmin(axis=-1)[..., None])
    assert ne.max(x).shape == () and ne.max(x).item() == A.max()
    y = ne.tensor(A[::-1].copy())
    np.testing.assert_array_equal(ne.max(x, y).numpy(), np.maximum(A, A[::-1]))
    np.testing.assert_array_equal(ne.min(x, y).numpy(), np.minimum(A, A[::-1]))
    assert x.argmax().item() == A.argmax()
    np.testing.assert_array_equal(x.argmax(dim=2, keepdim=True).numpy(), A.argmax(axis=2)[..., None])
    assert x.argmin(keepdim=True).shape == (1, 1, 1)


def test_max_over_a_dim_passes_the_gradient_to_the_largest():
    w = ne.tensor([[1.0, 5.0], [4.0, 2.0]], requires_grad=True)
    w.max(dim=1).values.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[0.0, 1.0], [1.0, 0.0]])


def test_std_and_var_are_unbiased_by_default():
    x = ne.tensor([1.0, 2.0, 3.0, 4.0])
    assert x.var().item() == pytest.approx(5 / 3)
    assert x.std().item() == pytest.approx(np.sqrt(5 / 3))
    assert x.var(unbiased=False).item() == pytest.approx(1.25)
    assert x.var(correction=0).item() == pytest.approx(1.25)
    assert ne.var(x, False).item() == pytest.approx(1.25)
    assert ne.std(x, correction=2).item() == pytest.approx(np.sqrt(5 / 2))
    y = ne.tensor(A)
    np.testing.assert_allclose(y.var(dim=1).numpy(), A.var(axis=1, ddof=1), rtol=1e-6)
    np.testing.assert_allclose(ne.std(y, (0, 2), keepdim=True).numpy(),
                               A.std(axis=(0, 2), ddof=1, keepdims=True), rtol=1e-6)


@pytest.mark.parametrize("name", ["sum", "mean", "prod", "logsumexp", "norm", "std", "var", "all", "any"])
def test_reductions_take_dim_and_keepdim(name):
    x = ne.tensor(A / 7 + 0.5)
    ref = {"sum": np.sum, "mean": np.mean, "prod": np.prod, "all": np.all, "any": np.any,
           "std": lambda a, axis, keepdims: np.std(a, axis=axis, ddof=1, keepdims=keepdims),
           "var": lambda a, axis, keepdims: np.var(a, axis=axis, ddof=1, keepdims=keepdims),
           "norm": lambda a, axis, keepdims: np.sqrt(np.sum(a * a, axis=axis, keepdims=keepdims)),
           "logsumexp": lambda a, axis, keepdims: np.log(np.sum(np.exp(a), axis=axis,
                                                                keepdims=keepdims))}[name]
    a = x.numpy()
    fn = getattr(ne, name)
    np.testing.assert_allclose(fn(x, dim=0).numpy(), ref(a, axis=0, keepdims=False), rtol=1e-5)
    np.testing.assert_allclose(getattr(x, name)(dim=1, keepdim=True).numpy(),
                               ref(a, axis=1, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(fn(x, dim=(0, -1)).numpy(), ref(a, axis=(0, 2), keepdims=False),
                               rtol=1e-5)
    np.testing.assert_allclose(getattr(x, name)(axis=2, keepdims=True).numpy(),
                               ref(a, axis=2, keepdims=True), rtol=1e-5)


def test_norm_orders():
    x = ne.tensor([[3.0, -4.0], [0.0, 1.0]])
    assert x.norm().item() == pytest.approx(np.sqrt(26))
    np.testing.assert_allclose(x.norm(dim=1).numpy(), [5.0, 1.0])
    np.testing.assert_allclose(ne.norm(x, 1, dim=0).numpy(), [3.0, 5.0])
    assert ne.norm(x, float("inf")).item() == 4.0
    assert ne.norm(x, 0).item() == 3.0
    assert ne.norm(x, 3).item() == pytest.approx((27 + 64 + 1) ** (1 / 3), rel=1e-6)


def test_mean_of_integers_is_refused_as_in_pytorch():
    with pytest.raises(RuntimeError, match="floating point"):
        ne.arange(3).mean()
    assert ne.arange(3).mean(dtype=ne.float32).item() == 1.0


def test_softmax_and_squeeze_take_dim():
    x = ne.tensor(A)
    np.testing.assert_allclose(x.softmax(dim=1).numpy().sum(axis=1), np.ones((2, 4)), rtol=1e-6)
    np.testing.assert_allclose(ne.log_softmax(x, 0).numpy(),
                               A - np.log(np.exp(A).sum(axis=0)), rtol=1e-5, atol=1e-6)
    y = ne.zeros(2, 1, 3)
    assert y.squeeze().shape == (2, 3)
    assert y.squeeze(1).shape == (2, 3)
    assert y.squeeze(0).shape == (2, 1, 3)  # not of size 1: unchanged, as PyTorch
    assert y.unsqueeze(-1).shape == (2, 1, 3, 1)


@needs_torch
@pytest.mark.parametrize("call", [
    lambda m, x: x.transpose(0, 1), lambda m, x: m.transpose(x, -1, 0), lambda m, x: x.permute(2, 0, 1),
    lambda m, x: x.mT, lambda m, x: m.flatten(x, 1), lambda m, x: x.flatten(0, 1),
    lambda m, x: x.max(dim=1).values, lambda m, x: x.max(dim=1).indices, lambda m, x: m.max(x, 2)[1],
    lambda m, x: m.min(x, 0, keepdim=True).values, lambda m, x: m.max(x),
    lambda m, x: x.argmax(dim=1), lambda m, x: x.argmax(), lambda m, x: x.std(), lambda m, x: x.var(1),
    lambda m, x: x.var(1, unbiased=False), lambda m, x: m.std(x, dim=(0, 2), keepdim=True),
    lambda m, x: x.var(correction=0), lambda m, x: m.sum(x, dim=0), lambda m, x: x.sum(dim=1, keepdim=True),
    lambda m, x: x.mean(dim=(0, 1)), lambda m, x: x.prod(dim=2), lambda m, x: x.norm(dim=1),
    lambda m, x: m.norm(x, p=1, dim=0, keepdim=True), lambda m, x: m.logsumexp(x, dim=2),
    lambda m, x: x.softmax(dim=-1), lambda m, x: m.log_softmax(x, dim=1),
])
def test_results_agree_with_pytorch(call):
    ours = call(ne, ne.tensor(A.astype(np.float32)))
    theirs = call(torch, torch.tensor(A.astype(np.float32)))
    assert ours.shape == tuple(theirs.shape)
    assert ours.dtype == np.dtype(str(theirs.dtype).replace("torch.", ""))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6)


def test_data_is_a_tensor_sharing_memory():
    w = ne.tensor([3.0, 4.0], requires_grad=True)
    d = w.data
    assert isinstance(d, ne.Tensor) and not d.requires_grad
    assert w.data.norm().item() == 5.0
    w.data.mul_(2.0)
    assert w.detach().tolist() == [6.0, 8.0]
    (w * w).sum().backward()
    w.grad.data.zero_()
    assert w.grad.tolist() == [0.0, 0.0]
    w.data = ne.tensor([1.0, 1.0])
    assert w.detach().tolist() == [1.0, 1.0] and w.requires_grad
    w.data -= 0.5 * ne.ones(2)
    assert w.detach().tolist() == [0.5, 0.5]


def test_dtype_names_type_and_to():
    assert ne.float32 == np.float32 and ne.float == np.float32 and ne.double == np.float64
    assert ne.long == np.int64 and ne.int == np.int32 and ne.half == np.float16
    assert ne.bool == np.bool_
    x = ne.tensor([1.5, 2.5])
    assert x.type(ne.float64).dtype == np.float64
    assert x.type() == "float32"
    assert x.to(ne.long).tolist() == [1, 2]
    assert x.to("cpu", ne.float64).dtype == np.float64
    assert x.to(ne.arange(2)).dtype == np.int64
    assert x.to(ne.device("cpu")) is x
    assert x.long().dtype == np.int64 and x.int().dtype == np.int32 and x.bool().dtype == np.bool_
    w = ne.tensor([1.0, 2.0], requires_grad=True)
    w.to(ne.float64).sum().backward()
    assert w.grad.dtype == np.float32 and w.grad.tolist() == [1.0, 1.0]


def test_device_and_cuda():
    d = ne.device("cpu")
    assert d.type == "cpu" and d == "cpu" and repr(d) == "device(type='cpu')"
    assert ne.tensor([1.0], device=d).device == d
    assert ne.device("cuda:0").type == "cuda" and ne.device("cuda:0").index == 0
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda"):
        ne.device("tpu")
    assert ne.cuda.is_available() in (True, False)


def test_products_and_constructors():
    a, b = ne.tensor(A[0]), ne.tensor(A[1])
    np.testing.assert_allclose(ne.mm(a, b.t()).numpy(), A[0] @ A[1].T)
    np.testing.assert_allclose(a.mm(b.T).numpy(), A[0] @ A[1].T)
    np.testing.assert_allclose(ne.mv(a, b[0]).numpy(), A[0] @ A[1][0])
    np.testing.assert_allclose(ne.bmm(ne.tensor(A), ne.tensor(A).mT).numpy(), A @ A.swapaxes(1, 2))
    with pytest.raises(RuntimeError, match="mm\\(\\): input must be a 2-D tensor"):
        ne.mm(ne.tensor(A), b)
    np.testing.assert_array_equal(ne.cat([a, b], dim=1).numpy(), np.concatenate([A[0], A[1]], 1))
    np.testing.assert_array_equal(ne.stack([a, b], -1).numpy(), np.stack([A[0], A[1]], -1))
    assert ne.linspace(0, 1, 5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert ne.linspace(0, 1, 5).dtype == np.float32
    assert ne.empty(2, 3).shape == (2, 3) and ne.empty(2).dtype == np.float32
    ne.manual_seed(0)
    r = ne.randint(3, 7, (1000,))
    assert r.dtype == np.int64 and r.min().item() == 3 and r.max().item() == 6
    assert ne.randint(5, size=(2, 2)).shape == (2, 2)
    n = ne.normal(2.0, 0.5, size=(4000,))
    assert n.dtype == np.float32 and abs(n.mean().item() - 2.0) < 0.05 and abs(n.std().item() - 0.5) < 0.05
    assert ne.normal(ne.zeros(3), ne.ones(3)).shape == (3,)
    arr = np.arange(3.0)
    t = ne.from_numpy(arr)
    arr[0] = 7.0
    assert t.dtype == np.float64 and t.tolist() == [7.0, 1.0, 2.0]


def test_values_and_modes():
    x = ne.tensor([-2.0, 0.5, 3.0])
    assert ne.clamp(x, min=-1.0, max=1.0).tolist() == [-1.0, 0.5, 1.0]
    assert x.clamp(max=0.0).tolist() == [-2.0, 0.0, 0.0]
    assert x.pow(2).tolist() == [4.0, 0.25, 9.0]
    assert ne.allclose(x, x + 1e-7) and not ne.allclose(x, x + 1e-3)
    nan = ne.tensor([float("nan")])
    assert not ne.allclose(nan, nan) and ne.allclose(nan, nan, equal_nan=True)
    assert x.size() == (3,) and x.size().numel() == 3 and ne.zeros(2, 3).size().numel() == 6
    w = ne.ones(2, requires_grad=True)
    with ne.inference_mode():
        assert not (w * 2).requires_grad
    assert (w * 2).requires_grad

    @ne.inference_mode()
    def f(v):
        return v * 2

    assert not f(w).requires_grad


@needs_torch
@pytest.mark.parametrize("call", [
    lambda m: m.linspace(-1, 2, 7), lambda m: m.zeros_like(m.empty(2, 3)), lambda m: m.full((2,), 7),
    lambda m: m.tensor([1.5, -2.5]).clamp(-1, 1), lambda m: m.tensor([1.5, -2.5]).pow(3),
    lambda m: m.cat([m.ones(2, 1), m.zeros(2, 2)], dim=1), lambda m: m.stack([m.ones(2), m.zeros(2)], 1),
    lambda m: m.mm(m.ones(2, 3), m.ones(3, 4)), lambda m: m.mv(m.ones(2, 3), m.ones(3)),
    lambda m: m.bmm(m.ones(2, 2, 3), m.ones(2, 3, 1)), lambda m: m.ones(2, 3).softmax(dim=0),
    lambda m: m.tensor([1.5, 2.7]).to(m.long), lambda m: m.tensor([1, 2]).type(m.float64),
    lambda m: m.from_numpy(np.arange(3.0)),
])
def test_constructors_and_products_agree_with_pytorch(call):
    ours, theirs = call(ne), call(torch)
    assert ours.shape == tuple(theirs.shape)
    assert ours.dtype == np.dtype(str(theirs.dtype).replace("torch.", ""))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


@needs_torch
def test_allclose_and_size_agree_with_pytorch():
    for m in (ne, torch):
        x = m.tensor([1.0, 2.0])
        assert m.allclose(x, x + 1e-6) and not m.allclose(x, x + 1e-2)
        assert x.size().numel() == 2 and m.zeros(2, 3).size().numel() == 6
