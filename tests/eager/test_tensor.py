"""Eager tensors: values, constructors, operators and the generated function set."""

import numpy as np
import pytest

import nbgrad.eager as ne


def test_constructors():
    assert ne.arange(4.0).tolist() == [0.0, 1.0, 2.0, 3.0]
    assert ne.arange(4).dtype == np.int64
    assert ne.zeros(2, 3).shape == (2, 3)
    assert ne.ones((2, 3)).numpy().sum() == 6
    assert ne.zeros(size=(2,)).tolist() == [0.0, 0.0]
    assert ne.randn(size=()).shape == ()
    ne.manual_seed(3)
    a = ne.randn(5).numpy().copy()
    ne.manual_seed(3)
    np.testing.assert_array_equal(ne.randn(5).numpy(), a)
    assert ne.tensor([1, 2]).dtype == np.int64
    assert ne.tensor([1.0, 2]).dtype == np.float32  # PyTorch's default dtype
    assert ne.tensor(np.array([1.0, 2.0])).dtype == np.float64  # NumPy arrays keep theirs


def test_requires_grad_only_for_floats():
    with pytest.raises(RuntimeError, match="floating dtype"):
        ne.tensor([1, 2], requires_grad=True)
    x = ne.tensor([1.0]).requires_grad_()
    assert x.requires_grad and x.is_leaf


def test_arithmetic_matches_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal(4)
    x, y = ne.tensor(a), ne.tensor(b)
    np.testing.assert_allclose((x + y).numpy(), a + b)
    np.testing.assert_allclose((2 - x * y / 3).numpy(), 2 - a * b / 3)
    np.testing.assert_allclose((x ** 2).numpy(), a ** 2)
    np.testing.assert_allclose((x @ y).numpy(), a @ b)
    np.testing.assert_allclose(ne.dot(y, y).numpy(), b @ b)
    np.testing.assert_allclose(ne.exp(x).numpy(), np.exp(a))
    np.testing.assert_allclose(x.sum(axis=0).numpy(), a.sum(axis=0))
    np.testing.assert_allclose(x.mean().item(), a.mean())
    np.testing.assert_allclose(x.max(axis=1).values.numpy(), a.max(axis=1))
    np.testing.assert_allclose(x.norm().item(), np.linalg.norm(a))
    np.testing.assert_allclose(x[1:, ::2].numpy(), a[1:, ::2])
    np.testing.assert_allclose(x[ne.tensor([2, 0])].numpy(), a[[2, 0]])
    np.testing.assert_allclose(ne.softmax(x, dim=1).numpy().sum(axis=1), np.ones(3))
    np.testing.assert_allclose(x.reshape(4, 3).numpy(), a.reshape(4, 3))
    np.testing.assert_allclose(x.T.numpy(), a.T)
    assert (x > 0).dtype == np.bool_


def test_weak_python_scalars_keep_dtype():
    x = ne.ones(3, dtype="float32")
    assert (x * 2.5).dtype == np.float32
    assert (1 - x).dtype == np.float32
    assert (ne.arange(3) * 0.5).dtype == np.float32  # the default dtype, as PyTorch


def test_function_set_is_generated_from_the_engine():
    import nbgrad.tensor as T
    from nbgrad.tensor.elemwise import Elemwise

    elemwise = {n for n, v in vars(T.math).items() if isinstance(v, Elemwise) and not n.startswith("_")}
    assert elemwise <= set(ne.FUNCTIONS)
    for n in ("sum", "mean", "max", "dot", "matmul", "reshape", "softmax", "log_softmax", "getitem"):
        assert n in ne.FUNCTIONS
    assert ne.FUNCTIONS["exp"].symbolic is T.exp


def test_comparisons_in_python_control_flow():
    x = ne.tensor(3.0)
    n = 0
    while x < 100:
        x = x * 2
        n += 1
    assert n == 6 and x.item() == 192.0
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(ne.ones(3) > 0)


def test_item_and_errors():
    assert ne.tensor([[2.5]]).item() == 2.5
    with pytest.raises(ValueError, match="one element"):
        ne.ones(2).item()


def test_repr_shows_grad_fn():
    x = ne.tensor([1.0], requires_grad=True)
    assert "requires_grad=True" in repr(x)
    assert "grad_fn=<mul>" in repr(x * 2)


def test_integer_indices_are_operands_not_recompiled():
    x = ne.tensor(np.arange(12.0).reshape(3, 4))
    cache = ne.FUNCTIONS["getitem"].cache
    x[0, 1:2]
    n = len(cache)
    for i in range(3):
        np.testing.assert_array_equal(x[i, 1:i + 2].numpy(), np.arange(12.0).reshape(3, 4)[i, 1:i + 2])
    assert len(cache) == n


def test_assigning_data_changes_the_compiled_signature():
    x = ne.tensor([1.0, 2.0])
    np.testing.assert_array_equal((x + x).numpy(), [2.0, 4.0])
    x.data = np.array([[3.0], [4.0]], dtype=np.float32)
    y = x + ne.tensor([1.0, 2.0], dtype="float32")
    assert y.shape == (2, 2) and y.dtype == np.float32
    np.testing.assert_array_equal(y.numpy(), [[4.0, 5.0], [5.0, 6.0]])


def test_repeated_calls_reuse_one_primitive():
    f = ne.eager_function(lambda x, k: x * k, "times_k")
    x = ne.tensor([1.0, 2.0], requires_grad=True)
    a = f(x, 3)
    b = f(x, 3)
    c = f(x.detach(), 3)
    assert len(f.cache) == 1
    assert a.grad_fn.prim is b.grad_fn.prim
    np.testing.assert_array_equal(c.numpy(), [3.0, 6.0])
    (a + b).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0])


def test_numbers_and_numpy_operands_follow_pytorch_dtypes():
    x = ne.tensor(np.array([1, 2], dtype=np.int8))
    assert (x + 1).dtype == np.int8
    assert (x * 2.5).dtype == np.float32
    y = ne.tensor([1.0, 2.0], requires_grad=True)
    assert (y * y).requires_grad
    z = y * np.array([3.0, 4.0])
    z.sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [3.0, 4.0])
    assert ne.tensor([1.0, 2.0])[np.int64(1)].item() == 2.0


def test_the_short_path_of_operators_and_sum_gives_what_the_general_path_gives():
    """``a + b`` and ``a.sum()`` on CPU tensors that record nothing run the primitive's kernel
    alone after the first call: the same values, dtypes, fresh results, errors and recording."""
    a = ne.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3))
    b = ne.tensor(np.ones((2, 3), dtype=np.float32))
    for _ in range(3):  # the first call fills the caches, the next ones take the short path
        for got, want in [(a + b, np.arange(6.0).reshape(2, 3) + 1), (a - b, np.arange(6.0).reshape(2, 3) - 1),
                          (a * b, np.arange(6.0).reshape(2, 3)), (a / b, np.arange(6.0).reshape(2, 3)),
                          (a @ b.T, np.arange(6.0).reshape(2, 3) @ np.ones((3, 2))), (a.sum(), 15.0),
                          (ne.add(a, b), np.arange(6.0).reshape(2, 3) + 1), (ne.exp(b), np.full((2, 3), np.e))]:
            assert type(got) is ne.Tensor and got.dtype == np.float32 and not got.requires_grad
            np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)
    s = a.sum()
    assert s.shape == () and type(s._data) is np.ndarray
    c = a + b
    assert c._data is not (a + b)._data and not np.shares_memory(c._data, a._data)
    with pytest.raises(ValueError, match="shape"):
        a + ne.tensor(np.ones((2, 4), dtype=np.float32))
    np.testing.assert_array_equal((a + b).numpy(), np.arange(6.0).reshape(2, 3) + 1)  # still fine after an error
    w = ne.tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    y = a * w
    assert y.requires_grad and y.grad_fn is not None
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), a.numpy())
    with ne.no_grad():
        assert not (a * w).requires_grad and (a * w).grad_fn is None
    p = ne.nn.Parameter(ne.ones(2, 3))
    assert (p + b).requires_grad and not (p.detach() + b).requires_grad


def test_the_short_path_follows_a_change_of_the_default_dtype():
    x = ne.tensor(np.array([1, 2], dtype=np.int64))
    assert (x / x).dtype == np.float32
    ne.set_default_dtype(ne.float64)
    try:
        assert (x / x).dtype == np.float64
    finally:
        ne.set_default_dtype(ne.float32)
    assert (x / x).dtype == np.float32


def test_tracing_sees_calls_that_would_take_the_short_path():
    a = ne.tensor(np.arange(3.0, dtype=np.float32))
    b = ne.tensor(np.ones(3, dtype=np.float32))
    (a + b).sum(), (a + b).sum()  # warm the short path
    traced = ne.trace(lambda x, y: (x + y).sum(), a, b)
    assert float(traced(a, b)) == 6.0
    assert float(traced(b, ne.tensor(np.full(3, 5.0, dtype=np.float32)))) == 18.0


def test_results_of_the_short_path_are_made_like_any_tensor():
    """The short path builds its result tensors itself: every slot as ``Tensor._make`` sets it."""
    a = ne.tensor(np.arange(3.0, dtype=np.float32))
    for _ in range(2):
        made = [a + a, a.sum(), ne.exp(a)]
    reference = ne.Tensor._make(a._data, False, None, 0)
    for t in made:
        for slot in ne.Tensor.__slots__:
            if slot in ("_data", "__weakref__"):
                continue
            assert getattr(t, slot) == getattr(reference, slot), slot
        assert t._version is not a._version
