"""torch.autograd, torch.optim and torch.utils.data on nbgrad.eager, with expected values."""

import numpy as np
import pytest

import nbgrad.eager as torch
from nbgrad.eager.autograd import functional as AF


def test_autograd_grad_returns_without_touching_dot_grad():
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (g,) = torch.autograd.grad((x ** 3).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), [3.0, 12.0, 27.0])
    (h,) = torch.autograd.grad(g.sum(), [x])
    np.testing.assert_allclose(h.numpy(), [6.0, 12.0, 18.0])
    assert x.grad is None
    y = torch.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        torch.autograd.grad((x * 2).sum(), [x, y])
    gx, gy = torch.autograd.grad((x * 2).sum(), [x, y], materialize_grads=True)
    assert gy.tolist() == [0.0] and gx.tolist() == [2.0, 2.0, 2.0]


def test_autograd_backward_with_inputs_fills_only_those():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = torch.tensor([3.0, 4.0], requires_grad=True)
    torch.autograd.backward([(a * b).sum()], inputs=[a])
    assert a.grad.tolist() == [3.0, 4.0] and b.grad is None
    with pytest.raises(RuntimeError, match="one gradient per tensor"):
        torch.autograd.backward([a * 2, b * 2], [torch.ones(2)])


def test_retain_graph_allows_a_second_backward():
    x = torch.tensor([2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(2.0) * 3, rtol=1e-6)
    z = (x.exp() * x).sum()
    z.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        z.backward()


def test_functional_jacobian_hessian_vjp_jvp_values():
    x = torch.tensor([1.0, 2.0])
    A = np.float32([[1, 2], [3, 4], [5, 6]])
    J = AF.jacobian(lambda v: torch.tensor(A) @ v.sin(), x)
    np.testing.assert_allclose(J.numpy(), A * np.cos([1.0, 2.0]), rtol=1e-6)
    H = AF.hessian(lambda v: (v[0] ** 2) * v[1], x)
    np.testing.assert_allclose(H.numpy(), [[4.0, 2.0], [2.0, 0.0]])
    out, g = AF.vjp(lambda v: v ** 2, x, torch.tensor([1.0, -1.0]))
    assert out.tolist() == [1.0, 4.0] and g.tolist() == [2.0, -4.0]
    out, t = AF.jvp(lambda v: torch.stack([v[0] * v[1], v[1]]), x, torch.tensor([1.0, 0.0]))
    assert t.tolist() == [2.0, 0.0]
    (ja, jb) = AF.jacobian(lambda a, b: a * b, (x, torch.tensor([3.0, 4.0])))
    assert ja.tolist() == [[3.0, 0.0], [0.0, 4.0]] and jb.tolist() == [[1.0, 0.0], [0.0, 2.0]]
    assert not J.requires_grad and not H.requires_grad


def test_custom_function_errors_are_explained():
    class Bad(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g, g

    x = torch.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="incorrect number of gradients \\(expected 1, got 2\\)"):
        Bad.apply(x).sum().backward()

    class Saves(Bad):
        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x

    y = x * 1
    out = Saves.apply(y)
    with torch.no_grad():
        y.mul_(3)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        out.sum().backward()
    with pytest.raises(RuntimeError, match="MyFunction.apply"):
        Bad()


def test_hook_replaces_the_gradient_and_can_be_removed():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    h = x.register_hook(lambda g: g * 0)
    (x * 5).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]
    h.remove()
    (x * 5).sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        torch.tensor([1.0]).register_hook(print)


def test_next_functions_lead_to_the_leaves():
    w = torch.tensor([1.0], requires_grad=True)
    y = (w * 2).exp()
    (mul, _), = y.grad_fn.next_functions
    ((acc, _), (const, _)) = mul.next_functions
    assert acc.variable is w and const is None


def test_sgd_and_adam_steps_by_hand():
    w = torch.nn.Parameter(torch.tensor([1.0, -1.0]))
    opt = torch.optim.SGD([w], lr=0.1, momentum=0.9, weight_decay=0.5)
    for _ in range(2):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
    # g = 2w + 0.5w = 2.5w; step 1: b = 2.5, w = 0.75; step 2: b = 0.9*2.5 + 1.875, w -= 0.1 b
    np.testing.assert_allclose(w.detach().numpy(), [0.3375, -0.3375], rtol=1e-6)
    v = torch.nn.Parameter(torch.tensor([2.0]))
    adam = torch.optim.Adam([v], lr=0.1)
    (v * 3).sum().backward()
    adam.step()
    # first Adam step moves each weight by lr (times sign of the gradient), up to eps
    np.testing.assert_allclose(v.detach().numpy(), [1.9], rtol=1e-6)
    assert adam.state[v]["step"] == 1
    with pytest.raises(TypeError, match="got a Tensor"):
        torch.optim.SGD(v, lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        torch.optim.SGD([v * 2], lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        torch.optim.Adam([v], lr=-1)


def test_dataloader_batches_and_shuffles():
    X = torch.arange(20.0).reshape(10, 2)
    y = torch.arange(10)
    ds = torch.utils.data.TensorDataset(X, y)
    assert len(ds) == 10 and ds[3][1].item() == 3
    loader = torch.utils.data.DataLoader(ds, batch_size=4)
    assert len(loader) == 3
    batches = list(loader)
    assert [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert batches[0][0].dtype == np.float32
    torch.manual_seed(0)
    shuffled = torch.utils.data.DataLoader(ds, batch_size=4, shuffle=True, drop_last=True)
    seen = [v for _, b in shuffled for v in b.tolist()]
    assert len(seen) == 8 and len(set(seen)) == 8 and seen != sorted(seen)
    with pytest.raises(ValueError, match="Size mismatch"):
        torch.utils.data.TensorDataset(X, torch.arange(3))

    class Squares(torch.utils.data.Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return torch.tensor([float(i)]), i * i

    xs, ys = next(iter(torch.utils.data.DataLoader(Squares(), batch_size=5)))
    assert xs.shape == (5, 1) and ys.tolist() == [0, 1, 4, 9, 16]
