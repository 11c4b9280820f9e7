"""``nbgrad.eager`` sort, argsort, topk and kthvalue: PyTorch's signatures and named tuples,
on the engine's sort ops (gradients from their rules); compared with PyTorch where it is
installed."""

import numpy as np
import pytest

import nbgrad.eager as ne

RNG = np.random.default_rng(5)
X = RNG.standard_normal((4, 5)).astype(np.float32)
TIES = np.array([[2, 1, 2, 0, 1], [3, 3, 3, 1, 3]])


@pytest.fixture
def torch():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: the comparison needs it")
    torch.set_num_threads(1)
    return torch


def test_sort_returns_values_and_int64_indices_as_a_named_tuple():
    res = ne.sort(ne.tensor(TIES), dim=1, descending=True)
    values, indices = res
    assert type(res).__name__ == "sort" and res.values is values and res.indices is indices
    np.testing.assert_array_equal(values.numpy(), -np.sort(-TIES, 1))
    np.testing.assert_array_equal(indices.numpy(), [[0, 2, 1, 4, 3], [0, 1, 2, 4, 3]])
    assert values.dtype == np.int64 and indices.dtype == np.int64


@pytest.mark.parametrize("dtype", ["int32", "int8", "float64"])
def test_sort_keeps_the_dtype_and_methods_agree_with_functions(dtype):
    x = ne.tensor(TIES.astype(dtype))
    values, indices = x.sort()
    assert values.dtype == np.dtype(dtype) and indices.dtype == np.int64
    np.testing.assert_array_equal(indices.numpy(), ne.argsort(x).numpy())
    np.testing.assert_array_equal(indices.numpy(), x.argsort(dim=-1).numpy())
    np.testing.assert_array_equal(x.sort(0, stable=True).values.numpy(), np.sort(TIES, 0))


def test_sort_gradient_flows_back_to_the_sorted_elements():
    x = ne.tensor(X, requires_grad=True)
    values, indices = x.sort(dim=0, descending=True)
    w = RNG.standard_normal(X.shape).astype(np.float32)
    (values * ne.tensor(w)).sum().backward()
    want = np.zeros_like(X)
    np.put_along_axis(want, indices.numpy(), w, 0)
    np.testing.assert_allclose(x.grad.numpy(), want)
    assert not indices.requires_grad and values.requires_grad


def test_topk_and_kthvalue():
    x = ne.tensor(X, requires_grad=True)
    values, indices = x.topk(3, dim=1, largest=False)
    order = np.argsort(X, 1, kind="stable")[:, :3]
    np.testing.assert_array_equal(indices.numpy(), order)
    np.testing.assert_array_equal(values.detach().numpy(), np.take_along_axis(X, order, 1))
    values.sum().backward()
    want = np.zeros_like(X)
    np.put_along_axis(want, order, 1.0, 1)
    np.testing.assert_array_equal(x.grad.numpy(), want)
    kth = ne.kthvalue(ne.tensor(X), 2, dim=0, keepdim=True)
    assert kth.values.shape == (1, 5)
    np.testing.assert_array_equal(kth.values.numpy()[0], np.sort(X, 0)[1])


def test_zero_dimensional_tensors_sort_to_themselves():
    s = ne.tensor(3.0)
    for res in (ne.sort(s), ne.topk(s, 1), ne.kthvalue(s, 1)):
        assert res.values.item() == 3.0 and res.indices.item() == 0 and res.indices.dtype == np.int64
    assert ne.argsort(s).item() == 0


def test_errors_name_the_bad_argument():
    x = ne.tensor(X)
    with pytest.raises(IndexError, match="Dimension out of range"):
        ne.sort(x, dim=2)
    with pytest.raises(RuntimeError, match="k=6 is out of range"):
        ne.topk(x, 6)
    with pytest.raises(RuntimeError, match="k=0 is out of range"):
        ne.kthvalue(x, 0)
    with pytest.raises(TypeError, match="k must be an int"):
        ne.topk(x, 1.5)


# -------------------------------------------------------------------- PyTorch itself
def _both(torch, array, requires_grad=False):
    return ne.tensor(array, requires_grad=requires_grad), torch.tensor(array, requires_grad=requires_grad)


def _same(ours, theirs):
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.dtype.name == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "int64", "int32"])
def test_sort_and_argsort_match_torchs_stable_sort(torch, dim, descending, dtype):
    ours, theirs = _both(torch, TIES.astype(dtype))
    a = ne.sort(ours, dim, descending, stable=True)
    b = torch.sort(theirs, dim=dim, descending=descending, stable=True)
    _same(a.values, b.values)
    _same(a.indices, b.indices)
    _same(ours.argsort(dim, descending), theirs.argsort(dim=dim, descending=descending, stable=True))


@pytest.mark.parametrize(
    "call",
    [
        lambda lib, x: lib.sort(x, dim=0, descending=True).values,
        lambda lib, x: x.sort().values,
        lambda lib, x: lib.topk(x, 2, dim=0).values,
        lambda lib, x: x.topk(3, largest=False, sorted=True).values,
        lambda lib, x: lib.kthvalue(x, 2, dim=1).values,
        lambda lib, x: lib.kthvalue(x, 3, 0, True).values,
    ],
    ids=["sort-descending", "sort-method", "topk", "topk-smallest", "kthvalue", "kthvalue-keepdim"],
)
def test_values_and_gradients_match_torch(torch, call):
    ours, theirs = _both(torch, X, requires_grad=True)
    a, b = call(ne, ours), call(torch, theirs)
    _same(a, b)
    w = RNG.standard_normal(tuple(b.shape)).astype(np.float32)
    (a * ne.tensor(w)).sum().backward()
    (b * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    "call",
    [
        lambda lib, x: lib.topk(x, 2, dim=1),
        lambda lib, x: lib.kthvalue(x, 4, dim=1),
        lambda lib, x: lib.sort(x, dim=0),
    ],
    ids=["topk", "kthvalue", "sort"],
)
def test_indices_and_named_tuples_match_torch(torch, call):
    ours, theirs = _both(torch, X)
    a, b = call(ne, ours), call(torch, theirs)
    assert type(a).__name__ == type(b).__name__ and len(a) == len(b) == 2
    _same(a.values, b.values)
    _same(a.indices, b.indices)


def test_nan_order_matches_torch(torch):
    values = np.array([1.0, np.nan, -1.0, 2.0], dtype=np.float32)
    for descending in (False, True):
        ours, theirs = _both(torch, values)
        a = ne.sort(ours, descending=descending)
        b = torch.sort(theirs, descending=descending, stable=True)
        np.testing.assert_array_equal(a.values.numpy(), b.values.numpy())
        _same(a.indices, b.indices)
