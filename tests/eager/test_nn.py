"""nbgrad.eager.nn without PyTorch: expected values, module bookkeeping, clear errors."""

import numpy as np
import pytest

import nbgrad.eager as torch
from nbgrad.eager import nn
from nbgrad.eager.nn import functional as F


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_cross_entropy_of_one_row_leaves_the_logits_unchanged():
    # One row of logits: the fused op used to subtract the maximum and exponentiate in the
    # caller's own memory, changing the input and the gradient computed from it.
    x = np.float32([0.5, 1.0, 2.0, 0.1])
    z = torch.tensor(x, requires_grad=True)
    loss = F.cross_entropy(z.unsqueeze(0), torch.tensor([2]))
    np.testing.assert_array_equal(z.detach().numpy(), x)
    loss.backward()
    np.testing.assert_array_equal(z.detach().numpy(), x)
    np.testing.assert_allclose(loss.item(), -np.log(softmax(x)[2]), rtol=1e-6)
    np.testing.assert_allclose(z.grad.numpy(), softmax(x) - np.eye(4)[2], rtol=1e-5, atol=1e-7)


def test_linear_computes_x_wT_plus_b_and_its_gradients():
    lin = nn.Linear(3, 2)
    assert lin.weight.shape == (2, 3) and lin.bias.shape == (2,)
    assert np.abs(lin.weight.detach().numpy()).max() <= 1 / np.sqrt(3)
    w = np.float32([[1, 2, 3], [-1, 0, 1]])
    lin.load_state_dict({"weight": w, "bias": np.float32([0.5, -0.5])})
    x = np.float32([[1, 1, 1], [0, 1, 2]])
    out = lin(torch.tensor(x))
    np.testing.assert_allclose(out.detach().numpy(), x @ w.T + [0.5, -0.5])
    out.sum().backward()
    np.testing.assert_allclose(lin.weight.grad.numpy(), np.tile(x.sum(0), (2, 1)))
    np.testing.assert_allclose(lin.bias.grad.numpy(), [2.0, 2.0])
    assert out.dtype == np.float32


def test_lazy_linear_takes_in_features_from_the_first_input():
    lin = nn.LazyLinear(4)
    assert lin.weight.shape == (0,)
    assert lin(torch.ones(2, 7)).shape == (2, 4)
    assert lin.in_features == 7 and lin.weight.shape == (4, 7)
    assert [p.shape for p in lin.parameters()] == [(4, 7), (4,)]


def test_module_registers_parameters_and_submodules_in_order():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 2)
            self.w = nn.Parameter(torch.zeros(3))
            self.plain = torch.zeros(1)  # a tensor that is not a Parameter: not registered
            self.seq = nn.Sequential(nn.ReLU(), nn.Linear(2, 1))

    net = Net()
    # as in PyTorch: a module's own parameters first, then those of its children
    assert [n for n, _ in net.named_parameters()] == ["w", "a.weight", "a.bias", "seq.1.weight",
                                                      "seq.1.bias"]
    assert list(net.state_dict()) == [n for n, _ in net.named_parameters()]
    assert len(list(net.children())) == 2 and len(list(net.modules())) == 5
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        net.nothing  # noqa: B018
    with pytest.raises(NotImplementedError, match="forward"):
        net(torch.ones(2))


def test_module_assignment_before_init_is_explained():
    class Broken(nn.Module):
        def __init__(self):
            self.lin = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="super\\(\\).__init__\\(\\)"):
        Broken()


def test_state_dict_round_trip_and_errors():
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    b.load_state_dict(a.state_dict())
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
    with pytest.raises(RuntimeError, match="size mismatch for weight"):
        b.load_state_dict({"weight": np.zeros((3, 3)), "bias": np.zeros(2)})
    with pytest.raises(RuntimeError, match="missing keys \\['bias'\\]"):
        b.load_state_dict({"weight": np.zeros((2, 3))})
    missing, unexpected = b.load_state_dict({"weight": np.zeros((2, 3)), "x": 1}, strict=False)
    assert missing == ["bias"] and unexpected == ["x"]
    assert (b.weight.detach().numpy() == 0).all()


def test_dropout_drops_while_training_and_passes_in_eval():
    torch.manual_seed(0)
    drop = nn.Dropout(0.5)
    x = torch.ones(1000)
    y = drop(x).numpy()
    assert set(np.unique(y)) == {0.0, 2.0}
    assert 400 < (y == 0).sum() < 600
    assert drop.eval()(x) is x
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


def test_init_functions_fill_in_place_without_recording():
    w = nn.Parameter(torch.empty(4, 6))
    nn.init.constant_(w, 0.25)
    assert (w.detach().numpy() == 0.25).all() and w.is_leaf
    nn.init.zeros_(w)
    assert (w.detach().numpy() == 0).all()
    torch.manual_seed(0)
    nn.init.normal_(w, mean=1.0, std=0.01)
    assert abs(w.detach().numpy().mean() - 1.0) < 0.01
    nn.init.xavier_uniform_(w)
    assert np.abs(w.detach().numpy()).max() <= np.sqrt(6 / 10)
    assert w.dtype == np.float32 and w.version > 0


def test_loss_values_against_formulas():
    z = np.float32([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    y = np.array([1, 2])
    expected = -np.log(softmax(z)[[0, 1], y])
    ce = nn.CrossEntropyLoss(reduction="none")(torch.tensor(z), torch.tensor(y))
    np.testing.assert_allclose(ce.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(F.cross_entropy(torch.tensor(z), torch.tensor(y)).item(),
                               expected.mean(), rtol=1e-6)
    np.testing.assert_allclose(nn.MSELoss(reduction="sum")(torch.tensor(z), torch.zeros(2, 3)).item(),
                               (z ** 2).sum(), rtol=1e-6)
    t = np.float32([[1, 0, 1], [0, 0, 1]])
    bce = F.binary_cross_entropy_with_logits(torch.tensor(z), torch.tensor(t), reduction="none")
    p = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(bce.numpy(), -(t * np.log(p) + (1 - t) * np.log(1 - p)), rtol=1e-5)


def test_unsupported_torch_options_raise_instead_of_computing_something_else():
    z, y = torch.zeros(2, 3), torch.tensor([0, 1])
    with pytest.raises(NotImplementedError, match="label_smoothing"):
        F.cross_entropy(z, y, label_smoothing=0.1)
    with pytest.raises(NotImplementedError, match="weight="):
        F.cross_entropy(z, y, weight=torch.ones(3))
    with pytest.raises(NotImplementedError, match="ignore_index"):
        F.cross_entropy(z, torch.tensor([0, -100]))
    with pytest.raises(IndexError, match="Target 3 is out of bounds"):
        F.cross_entropy(z, torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        nn.Linear(4, 2)(torch.ones(3, 5))


def test_a_module_traces_into_one_compiled_function():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    traced = torch.trace(net, torch.tensor(x))
    np.testing.assert_allclose(traced(x), net(torch.tensor(x)).detach().numpy(), rtol=1e-6)
    x2 = x[:2] * 3
    np.testing.assert_allclose(traced(x2), net(torch.tensor(x2)).detach().numpy(), rtol=1e-6)
    assert "relu" in traced.formula() or "maximum" in traced.formula()
