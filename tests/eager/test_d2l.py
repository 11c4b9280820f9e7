"""d2l-style training code, written for PyTorch, run with ``import nbgrad.eager as torch``.

Linear regression and an MLP on synthetic data, each from scratch and with
``nn.Sequential``: the loss must fall; where PyTorch is installed, the same
code with the same initial weights and batches gives PyTorch's losses.
"""

import random

import numpy as np
import pytest

import nbgrad.eager

try:
    import torch as real_torch
except ImportError:
    real_torch = None
else:
    # PyTorch's thread pool spins against the other test processes on a small machine
    # (16 s instead of 0.6 s for one training run); the results are the same.
    real_torch.set_num_threads(1)

needs_torch = pytest.mark.skipif(real_torch is None, reason="PyTorch is not installed")


def synthetic_data(torch, w, b, num_examples, seed=0):
    """y = Xw + b + noise (d2l 3.1), with NumPy draws so that both libraries see the same data."""
    rng = np.random.default_rng(seed)
    X = torch.tensor(rng.normal(0, 1, (num_examples, len(w))).astype(np.float32))
    y = torch.matmul(X, w) + b
    y += torch.tensor(rng.normal(0, 0.01, tuple(y.shape)).astype(np.float32))
    return X, y.reshape((-1, 1))


def data_iter(torch, batch_size, features, labels, shuffle_seed=None):
    num_examples = len(features)
    indices = list(range(num_examples))
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(indices)
    for i in range(0, num_examples, batch_size):
        batch_indices = torch.tensor(indices[i: min(i + batch_size, num_examples)])
        yield features[batch_indices], labels[batch_indices]


def linreg(X, w, b):
    return X @ w + b


def squared_loss(y_hat, y):
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


def sgd(torch, params, lr, batch_size):
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()


def linear_regression_from_scratch(torch, epochs=3, lr=0.03, batch_size=10):
    true_w, true_b = torch.tensor([2, -3.4]), 4.2
    features, labels = synthetic_data(torch, true_w, true_b, 1000)
    w = torch.tensor(np.random.default_rng(1).normal(0, 0.01, (2, 1)).astype(np.float32),
                     requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    losses = []
    for epoch in range(epochs):
        for X, y in data_iter(torch, batch_size, features, labels, shuffle_seed=epoch):
            loss = squared_loss(linreg(X, w, b), y)
            loss.sum().backward()
            sgd(torch, [w, b], lr, batch_size)
        with torch.no_grad():
            losses.append(float(squared_loss(linreg(features, w, b), labels).mean()))
    return losses, w.detach().numpy().ravel(), float(b.detach())


def linear_regression_concise(torch, epochs=3, lr=0.03, batch_size=10):
    from_nn = torch.nn
    true_w, true_b = torch.tensor([2, -3.4]), 4.2
    features, labels = synthetic_data(torch, true_w, true_b, 1000)
    dataset = torch.utils.data.TensorDataset(features, labels)
    data_loader = torch.utils.data.DataLoader(dataset, batch_size, shuffle=False)
    net = from_nn.Sequential(from_nn.Linear(2, 1))
    net[0].weight.data.normal_(0, 0.01)
    net[0].bias.data.fill_(0)
    net[0].weight.data.copy_(torch.tensor(np.float32([[0.01, -0.02]])))
    loss = from_nn.MSELoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        for X, y in data_loader:
            l = loss(net(X), y)  # noqa: E741 - d2l's name
            trainer.zero_grad()
            l.backward()
            trainer.step()
        losses.append(float(loss(net(features), labels).detach()))
    return losses, net[0].weight.data.numpy().ravel(), float(net[0].bias.data)


def _classification_data(torch, n=240, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 1, (n, 2, 2)).astype(np.float32)  # 2x2 "images"
    r = np.sqrt((X ** 2).sum((1, 2)))
    y = np.digitize(r, [1.4, 2.2])  # three classes: rings around the origin
    return torch.tensor(X), torch.tensor(y)


def _mlp_init(seed=3):
    rng = np.random.default_rng(seed)
    return {"W1": rng.normal(0, 0.5, (4, 16)).astype(np.float32), "b1": np.zeros(16, np.float32),
            "W2": rng.normal(0, 0.5, (16, 3)).astype(np.float32), "b2": np.zeros(3, np.float32)}


def mlp_from_scratch(torch, epochs=30, lr=0.5, batch_size=40):
    nn = torch.nn
    X_all, y_all = _classification_data(torch)
    init = _mlp_init()
    W1, b1 = nn.Parameter(torch.tensor(init["W1"])), nn.Parameter(torch.tensor(init["b1"]))
    W2, b2 = nn.Parameter(torch.tensor(init["W2"])), nn.Parameter(torch.tensor(init["b2"]))
    params = [W1, b1, W2, b2]

    def relu(X):
        a = torch.zeros_like(X)
        return torch.max(X, a)

    def net(X):
        X = X.reshape((-1, 4))
        H = relu(X @ W1 + b1)
        return H @ W2 + b2

    loss = nn.CrossEntropyLoss(reduction="none")
    updater = torch.optim.SGD(params, lr=lr)
    losses = []
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X_all, y_all), batch_size)
    for _ in range(epochs):
        for X, y in loader:
            updater.zero_grad()
            loss(net(X), y).mean().backward()
            updater.step()
        with torch.no_grad():
            losses.append(float(loss(net(X_all), y_all).mean()))
    accuracy = float((net(X_all).argmax(dim=1) == y_all).float().mean())
    return losses, accuracy


def mlp_concise(torch, epochs=30, lr=0.1, batch_size=40):
    nn = torch.nn
    X_all, y_all = _classification_data(torch)
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    init = _mlp_init()
    net.load_state_dict({k: torch.tensor(np.ascontiguousarray(v)) for k, v in {
        "1.weight": init["W1"].T, "1.bias": init["b1"], "3.weight": init["W2"].T,
        "3.bias": init["b2"]}.items()})
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=1e-4)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X_all, y_all), batch_size)
    losses = []
    for _ in range(epochs):
        net.train()
        for X, y in loader:
            trainer.zero_grad()
            loss(net(X), y).backward()
            trainer.step()
        net.eval()
        with torch.no_grad():
            losses.append(loss(net(X_all), y_all).item())
    return losses, float((net(X_all).argmax(1) == y_all).float().mean())


def test_linear_regression_from_scratch_recovers_the_weights():
    losses, w, b = linear_regression_from_scratch(nbgrad.eager)
    assert losses[-1] < losses[0] < 1.0 and losses[-1] < 1e-3
    np.testing.assert_allclose(w, [2, -3.4], atol=0.01)
    assert abs(b - 4.2) < 0.01


def test_linear_regression_concise_recovers_the_weights():
    losses, w, b = linear_regression_concise(nbgrad.eager)
    assert losses[-1] < losses[0] and losses[-1] < 1e-3
    np.testing.assert_allclose(w, [2, -3.4], atol=0.01)


@pytest.mark.parametrize("train", [mlp_from_scratch, mlp_concise])
def test_mlp_learns_the_rings(train):
    losses, accuracy = train(nbgrad.eager)
    assert losses[-1] < 0.6 * losses[0]
    assert accuracy > 0.8


@needs_torch
@pytest.mark.parametrize("train", [linear_regression_from_scratch, linear_regression_concise,
                                   mlp_from_scratch, mlp_concise])
def test_training_matches_torch_step_for_step(train):
    ours, theirs = train(nbgrad.eager), train(real_torch)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-5)
