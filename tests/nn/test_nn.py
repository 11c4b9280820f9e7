"""nbgrad.nn: layers, losses, optimizers and the seed-001 Learner experiments."""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.nn import (
    SGD, Adam, Layer, Learner, Linear, ReLU, Sequential, Sigmoid, Softmax, Tanh, cross_entropy,
    mse_loss,
)


def test_linear_init_is_scaled_and_seedable():
    a, b = Linear(400, 50, seed=3), Linear(400, 50, seed=3)
    np.testing.assert_array_equal(a.weights.get_value(), b.weights.get_value())
    assert abs(a.weights.get_value().std() - np.sqrt(1 / 400)) < 0.005
    np.testing.assert_array_equal(a.bias.get_value(), np.zeros(50))
    assert not np.array_equal(a.weights.get_value(), Linear(400, 50, seed=4).weights.get_value())


def test_layers_compute_numpy_values():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3))
    X = T.dmatrix("X")
    lin = Linear(3, 2, seed=0)
    W, b = lin.weights.get_value(), lin.bias.get_value()
    model = Sequential(lin, Tanh())
    np.testing.assert_allclose(nbgrad.function([X], model(X))(x), np.tanh(x @ W + b))
    np.testing.assert_allclose(nbgrad.function([X], ReLU()(X))(x), np.maximum(x, 0))
    np.testing.assert_allclose(nbgrad.function([X], Sigmoid()(X))(x), 1 / (1 + np.exp(-x)))
    e = np.exp(x - x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(nbgrad.function([X], Softmax()(X))(x), e / e.sum(axis=1, keepdims=True))
    assert len(model.parameters) == 2 and Layer()(X) is X
    with pytest.raises(TypeError, match="not a Layer"):
        Sequential(lin, np.tanh)


def test_losses_match_numpy():
    rng = np.random.default_rng(1)
    z, t = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    Z, Y = T.dmatrix("Z"), T.lvector("Y")
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    expected = -logp[np.arange(6), t].mean()
    np.testing.assert_allclose(nbgrad.function([Z, Y], cross_entropy(Z, Y))(z, t), expected)
    P = T.dmatrix("P")
    onehot = np.eye(4)[t]
    np.testing.assert_allclose(nbgrad.function([Z, P], cross_entropy(Z, P))(z, onehot), expected)
    np.testing.assert_allclose(nbgrad.function([Z, P], mse_loss(Z, P))(z, onehot), ((z - onehot) ** 2).mean())


def _quadratic_steps(opt, steps):
    w = nbgrad.shared(np.array([1.0, -2.0]), name="w")
    cost = T.sum(T.sqr(w))
    f = nbgrad.function([], cost, updates=opt.updates([w], [T.grad(cost, w)]))
    for _ in range(steps):
        f()
    return w.get_value()


def test_sgd_with_momentum_matches_the_recurrence():
    w, v = np.array([1.0, -2.0]), np.zeros(2)
    for _ in range(3):
        v = 0.9 * v + 2 * w
        w = w - 0.1 * v
    np.testing.assert_allclose(_quadratic_steps(SGD(lr=0.1, momentum=0.9), 3), w)


def test_adam_matches_the_recurrence():
    w, m, v = np.array([1.0, -2.0]), np.zeros(2), np.zeros(2)
    for t in range(1, 4):
        g = 2 * w
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g ** 2
        w = w - 0.1 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    np.testing.assert_allclose(_quadratic_steps(Adam(lr=0.1), 3), w)


def test_seed_001_linear_model_recovers_true_weights():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 10))
    W = rng.standard_normal((10, 1))
    B = rng.standard_normal(1)
    Y = X @ W + B
    model = Linear(10, 1, seed=1)
    learner = Learner(model, mse_loss, SGD(lr=0.05))
    losses = learner.fit(X, Y, epochs=10, bs=10, seed=0)
    assert len(losses) == 10 and losses[-1] < 1e-3 * losses[0]
    np.testing.assert_allclose(model.weights.get_value(), W, atol=1e-2)
    np.testing.assert_allclose(model.bias.get_value(), B, atol=1e-2)
    np.testing.assert_allclose(learner.predict(X), Y, atol=5e-2)


def _two_moons(n, rng):
    t = rng.uniform(0, np.pi, n)
    upper = np.stack([np.cos(t), np.sin(t)], axis=1)
    lower = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], axis=1)
    X = np.concatenate([upper, lower]) + 0.1 * rng.standard_normal((2 * n, 2))
    y = np.concatenate([np.zeros(n, dtype=np.int64), np.ones(n, dtype=np.int64)])
    return X, y


def test_mlp_learns_two_moons():
    rng = np.random.default_rng(0)
    X, y = _two_moons(200, rng)
    model = Sequential(Linear(2, 32, seed=0), ReLU(), Linear(32, 32, seed=1), ReLU(), Linear(32, 2, seed=2))
    learner = Learner(model, cross_entropy, Adam(lr=0.02))
    losses = learner.fit(X, y, epochs=60, bs=32, seed=0)
    assert losses[-1] < 0.2 * losses[0]
    accuracy = (learner.predict(X).argmax(axis=1) == y).mean()
    assert accuracy > 0.97


def test_xor_with_sigmoid_and_mse():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (256, 2))
    Y = ((X[:, :1] > 0) ^ (X[:, 1:] > 0)).astype(float)
    model = Sequential(Linear(2, 16, seed=0), Tanh(), Linear(16, 1, seed=1), Sigmoid())
    learner = Learner(model, mse_loss, SGD(lr=0.5, momentum=0.9))
    learner.fit(X, Y, epochs=80, bs=32, seed=0)
    assert ((learner.predict(X) > 0.5) == (Y > 0.5)).mean() > 0.93


def test_float32_model_keeps_float32_and_progress_bar(capsys):
    X = np.random.default_rng(0).standard_normal((20, 3))
    model = Linear(3, 1, seed=0, dtype="float32")
    learner = Learner(model, mse_loss, SGD(lr=0.1))
    learner.fit(X, X[:, :1], epochs=2, bs=5, progress=True)
    assert model.weights.get_value().dtype == np.float32
    assert learner.predict(X).dtype == np.float32
    err = capsys.readouterr().err
    assert "epoch 2/2" in err and "loss" in err
    with pytest.raises(ValueError, match="rows"):
        learner.fit(X, X[:5], epochs=1)


def test_plot_losses():
    import matplotlib

    matplotlib.use("Agg")
    learner = Learner(Linear(2, 1, seed=0), mse_loss, SGD(lr=0.1))
    X = np.ones((4, 2))
    learner.fit(X, np.ones((4, 1)), epochs=3, bs=2)
    ax = learner.plot()
    assert len(ax.lines[0].get_xdata()) == 3


@pytest.mark.parametrize("classes", [5, 120])  # transposed (few classes) and row-wise CPU code
def test_cross_entropy_with_labels_is_one_fused_op_with_the_log_softmax_gradient(classes):
    from nbgrad.tensor.nnet import SoftmaxCrossEntropy, SoftmaxCrossEntropyGrad

    rng = np.random.default_rng(3)
    z = (rng.standard_normal((6, classes)) * 30).astype("float32")  # large logits: must stay finite
    t = rng.integers(0, classes, 6)
    Z, Y = T.fmatrix("Z"), T.lvector("Y")
    loss = cross_entropy(Z, Y)
    f = nbgrad.function([Z, Y], [loss, T.grad(loss, Z)])
    ops = {type(n.op) for n in f.maker.fgraph.apply_nodes}
    assert {SoftmaxCrossEntropy, SoftmaxCrossEntropyGrad} <= ops
    value, gz = f(z, t)
    assert value.dtype == gz.dtype == np.float32
    ref = -T.mean(T.nnet.log_softmax(Z)[T.arange(6), Y])
    g = nbgrad.function([Z, Y], [ref, T.grad(ref, Z)])
    np.testing.assert_allclose(value, g(z, t)[0], rtol=1e-5)
    np.testing.assert_allclose(gz, g(z, t)[1], rtol=1e-4, atol=1e-7)


def test_cross_entropy_rejects_labels_out_of_range():
    Z, Y = T.dmatrix("Z"), T.lvector("Y")
    f = nbgrad.function([Z, Y], cross_entropy(Z, Y))
    with pytest.raises(ValueError, match="labels must lie in"):
        f(np.zeros((2, 3)), np.array([0, 3]))


def test_layer_parameters_have_static_shapes_and_keep_them():
    layer = Linear(3, 2, seed=0)
    assert layer.weights.type.shape == (3, 2) and layer.bias.type.shape == (2,)
    layer.set_weights([np.ones((3, 2)), np.zeros(2)])
    with pytest.raises((TypeError, ValueError)):
        layer.weights.set_value(np.ones((4, 2)))


def test_training_step_has_no_runtime_broadcast_checks_and_matches_numpy():
    from nbgrad.tensor.elemwise import SumToShape

    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 20)).astype("float32")
    y = rng.integers(0, 4, 300)
    layers = [Linear(20, 300, seed=1, dtype="float32"), Linear(300, 4, seed=2, dtype="float32")]
    w1, b1 = (p.get_value() for p in layers[0].parameters)
    w2, b2 = (p.get_value() for p in layers[1].parameters)
    step = Learner(Sequential(layers[0], Tanh(), layers[1]), cross_entropy, SGD(lr=0.1)).train_function(x, y)
    assert not any(isinstance(n.op, SumToShape) for n in step.maker.fgraph.apply_nodes)
    loss = step(x, y)
    h = np.tanh(x @ w1 + b1)
    z = h @ w2 + b2
    e = np.exp(z - z.max(1, keepdims=True))
    p = e / e.sum(1, keepdims=True)
    np.testing.assert_allclose(loss, -np.mean(np.log(p[np.arange(300), y])), rtol=1e-5)
    dz = p.copy()
    dz[np.arange(300), y] -= 1
    dz /= 300
    dh = (dz @ w2.T) * (1 - h * h)
    np.testing.assert_allclose(layers[0].weights.get_value(), w1 - 0.1 * (x.T @ dh), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(layers[0].bias.get_value(), b1 - 0.1 * dh.sum(0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(layers[1].weights.get_value(), w2 - 0.1 * (h.T @ dz), rtol=1e-4, atol=1e-6)
