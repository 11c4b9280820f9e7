"""Reverse mode on the tape: values against NumPy formulas and finite differences."""

import numpy as np
import pytest

import nbgrad.eager as ne


def numeric_grad(f, a, eps=1e-6):
    g = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        ap, am = a.copy(), a.copy()
        ap[i] += eps
        am[i] -= eps
        g[i] = (f(ap) - f(am)) / (2 * eps)
    return g


def test_seed_004_examples():
    x = ne.arange(4.0, requires_grad=True)
    assert x.grad is None
    y = 2 * ne.dot(x, x)
    assert y.item() == 28.0
    y.backward()
    assert (x.grad == 4 * x).all()
    x.grad.zero_()
    x.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(4))
    x.grad.zero_()
    y = x * x
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * x.detach().numpy())
    x.grad.zero_()
    y = x * x
    u = y.detach()
    z = u * x
    z.sum().backward()
    assert (x.grad == u).all()
    x.grad.zero_()
    y.sum().backward()
    assert (x.grad == 2 * x).all()


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_gradient_through_python_control_flow(seed):
    def f(a):
        b = a * 2
        while b.norm() < 1000:
            b = b * 2
        if b.sum() > 0:
            c = b
        else:
            c = 100 * b
        return c

    ne.manual_seed(seed)
    a = ne.randn(size=(), requires_grad=True)
    d = f(a)
    d.backward()
    np.testing.assert_allclose(a.grad.item(), (d / a).item())


def test_gradients_accumulate_until_zeroed():
    x = ne.tensor([1.0, -2.0], requires_grad=True)
    for _ in range(3):
        (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * 2 * np.array([1.0, -2.0]))
    g = x.grad
    g.zero_()
    (x * 3).sum().backward()
    assert x.grad is g
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_matches_finite_differences_for_an_mlp():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 3))
    w1 = rng.standard_normal((3, 4))
    w2 = rng.standard_normal(4)

    def loss_np(w1_):
        h = np.tanh(X @ w1_)
        p = 1 / (1 + np.exp(-(h @ w2)))
        return np.mean((p - 0.5) ** 2) + np.abs(w1_).max()

    W1 = ne.tensor(w1, requires_grad=True)
    h = ne.tanh(ne.tensor(X) @ W1)
    p = ne.sigmoid(h @ ne.tensor(w2))
    loss = ((p - 0.5) ** 2).mean() + abs(W1).max()
    np.testing.assert_allclose(loss.item(), loss_np(w1))
    loss.backward()
    np.testing.assert_allclose(W1.grad.numpy(), numeric_grad(loss_np, w1), rtol=1e-5, atol=1e-7)


def test_broadcasting_and_indexing_gradients():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal(4)
    x, y = ne.tensor(a, requires_grad=True), ne.tensor(b, requires_grad=True)
    (x * y)[1:, ::2].sum().backward()
    gx = np.zeros_like(a)
    gx[1:, ::2] = b[::2]
    np.testing.assert_allclose(x.grad.numpy(), gx)
    np.testing.assert_allclose(y.grad.numpy(), np.array([1, 0, 1, 0]) * a[1:].sum(axis=0))


def test_non_scalar_backward_needs_a_gradient():
    x = ne.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    with pytest.raises(RuntimeError, match="only works for scalar outputs"):
        y.backward()
    y.backward(ne.tensor([1.0, 0.0, 2.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 0.0, 12.0])
    with pytest.raises(RuntimeError, match="shape"):
        (x * x).backward(ne.ones(2))


def test_backward_twice_needs_retain_graph():
    x = ne.tensor([0.5, 1.5], requires_grad=True)
    z = ne.exp(x).sum()
    z.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        z.backward()
    x.grad = None
    z = ne.exp(x).sum()
    z.backward(retain_graph=True)
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([0.5, 1.5]))


def test_in_place_change_of_a_needed_tensor_is_detected():
    x = ne.tensor([1.0, 2.0], requires_grad=True)
    a = x * 2
    b = a * a  # the gradient of b needs a
    with ne.no_grad():
        a.mul_(10)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        b.sum().backward()


def test_recorded_in_place_operation_on_non_leaf():
    x = ne.tensor([1.0, 2.0], requires_grad=True)
    a = x * 2
    a += 1
    (a * a).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * (2 * np.array([1.0, 2.0]) + 1))


def test_in_place_on_leaf_requiring_grad_is_refused_outside_no_grad():
    w = ne.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    with pytest.raises(RuntimeError, match="no_grad"):
        w -= 0.1 * w.grad
    with ne.no_grad():
        w -= 0.1 * w.grad
    np.testing.assert_allclose(w.detach().numpy(), [0.8, 1.6])
    assert w.requires_grad and w.is_leaf


def test_no_grad_and_detach():
    x = ne.tensor([1.0], requires_grad=True)
    with ne.no_grad():
        y = x * 2
    assert not y.requires_grad
    d = x.detach()
    assert not d.requires_grad and np.shares_memory(d.numpy(), x.detach().numpy())
    with pytest.raises(RuntimeError, match="does not require a gradient"):
        y.backward()


def test_second_and_third_derivatives():
    t = ne.tensor(2.0, requires_grad=True)
    (g1,) = ne.grad(t ** 3, t, create_graph=True)
    (g2,) = ne.grad(g1, t, create_graph=True)
    (g3,) = ne.grad(g2, t)
    assert (g1.item(), g2.item(), g3.item()) == (12.0, 12.0, 6.0)


def test_create_graph_backward_then_differentiate_gradient():
    a = np.array([0.3, -1.2, 0.7])
    x = ne.tensor(a, requires_grad=True)
    ne.tanh(x).sum().backward(create_graph=True)
    g = x.grad
    np.testing.assert_allclose(g.detach().numpy(), 1 - np.tanh(a) ** 2)
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), -2 * np.tanh(a) * (1 - np.tanh(a) ** 2))


def test_hessian_vector_product_matches_finite_differences():
    rng = np.random.default_rng(2)
    a, v = rng.standard_normal(3), rng.standard_normal(3)

    def f_np(z):
        return np.sum(np.sin(z) * z ** 2)

    def grad_np(z):
        return np.cos(z) * z ** 2 + 2 * z * np.sin(z)

    x = ne.tensor(a, requires_grad=True)
    (g,) = ne.grad((ne.sin(x) * x ** 2).sum(), x, create_graph=True)
    (hv,) = ne.grad(ne.dot(g, ne.tensor(v)), x)
    eps = 1e-6
    expected = (grad_np(a + eps * v) - grad_np(a - eps * v)) / (2 * eps)
    np.testing.assert_allclose(hv.numpy(), expected, rtol=1e-5)
    assert f_np(a) == pytest.approx((ne.sin(ne.tensor(a)) * ne.tensor(a) ** 2).sum().item())


def test_grad_allow_unused_and_retain_grad():
    x = ne.tensor(1.0, requires_grad=True)
    y = ne.tensor(2.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        ne.grad(x * 3, [x, y])
    assert ne.grad(x * 3, [x, y], allow_unused=True)[1] is None
    h = (x * 3).retain_grad()
    (h * h).backward()
    assert h.grad.item() == 6.0 and x.grad.item() == 18.0


def test_a_new_engine_function_works_eagerly_with_its_own_gradient():
    import nbgrad.tensor as T

    softplus = ne.eager_function(lambda z: T.log1p(T.exp(z)), "my_softplus")
    x = ne.tensor([0.0, 1.0], requires_grad=True)
    softplus(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 1 / (1 + np.exp(-np.array([0.0, 1.0]))))
