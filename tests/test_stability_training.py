"""The Theano tutorial's logistic regression, as the tutorial writes it, trains on separable data.

``p_1 = 1 / (1 + exp(-x·w - b))`` and ``xent = -y·log(p_1) - (1 - y)·log(1 - p_1)``: once a
logit passes about 37 (float64) or 17 (float32), ``p_1`` rounds to 1 and ``log(1 - p_1)``
to -inf. On linearly separable data the logits grow past that; the compiled cost and its
gradient must stay finite in every mode (``nbgrad.rewriting.stabilize``).
"""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.rewriting import Mode

STEPS = 10_000


def _tutorial(dtype, mode, n=40, feats=5, seed=0):
    rng = np.random.default_rng(seed)
    # separable with a wide margin, features of size ~30: logits reach the hundreds
    data = rng.standard_normal((n, feats)) * 30
    labels = (data @ np.arange(1.0, feats + 1) > 0).astype(dtype)
    data = data.astype(dtype)
    x = T.matrix("x", dtype=dtype)
    y = T.vector("y", dtype=dtype)
    w = nbgrad.shared(rng.standard_normal(feats).astype(dtype), name="w")
    b = nbgrad.shared(np.asarray(0.0, dtype=dtype), name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    prediction = p_1 > 0.5
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = T.grad(cost, [w, b])
    lr = np.asarray(0.1, dtype=dtype)
    train = nbgrad.function([x, y], [prediction, cost, T.max(abs(T.dot(x, w) + b))],
                            updates=[(w, w - lr * gw), (b, b - lr * gb)], mode=mode)
    return train, data, labels, w, b


@pytest.mark.parametrize("mode", ["FAST_RUN", "FAST_COMPILE"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_tutorial_logistic_regression_trains_on_separable_data(dtype, mode):
    train, data, labels, w, b = _tutorial(dtype, mode)
    costs, largest = np.empty(STEPS), 0.0
    for i in range(STEPS):
        pred, costs[i], logit = train(data, labels)
        largest = max(largest, float(logit))
    assert np.isfinite(costs).all(), np.flatnonzero(~np.isfinite(costs))[:5]
    assert np.isfinite(w.get_value()).all() and np.isfinite(b.get_value())
    assert largest > 40  # the textbook form overflows here
    assert costs[-1] < costs[0] / 10
    # decreasing, up to rounding once the cost has converged
    assert (np.diff(costs) <= 1e-6 * np.abs(costs[:-1]) + np.finfo(dtype).eps).all()
    assert (pred == labels).all()


def test_without_the_rewrites_the_same_loop_overflows():
    # the reason for the above: the graph as written gives an infinite cost
    train, data, labels, _, _ = _tutorial("float64", Mode("NONE"))
    with np.errstate(all="ignore"):
        costs = [train(data, labels)[1] for _ in range(20)]
    assert not np.isfinite(costs).all()


def _pytensor_tutorial(pytensor, dtype, n=40, feats=5, seed=0):
    """The same loop, data and initial weights in PyTensor (whose stabilize phase has these
    rewrites too): the reference for the weights nbgrad's loop ends with."""
    import pytensor.tensor as pt

    rng = np.random.default_rng(seed)
    data = rng.standard_normal((n, feats)) * 30
    labels = (data @ np.arange(1.0, feats + 1) > 0).astype(dtype)
    data = data.astype(dtype)
    x = pt.matrix("x", dtype=dtype)
    y = pt.vector("y", dtype=dtype)
    w = pytensor.shared(rng.standard_normal(feats).astype(dtype), name="w")
    b = pytensor.shared(np.asarray(0.0, dtype=dtype), name="b")
    p_1 = 1 / (1 + pt.exp(-pt.dot(x, w) - b))
    xent = -y * pt.log(p_1) - (1 - y) * pt.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = pytensor.grad(cost, [w, b])
    lr = np.asarray(0.1, dtype=dtype)
    train = pytensor.function([x, y], cost, updates=[(w, w - lr * gw), (b, b - lr * gb)])
    return train, data, labels, w, b


# float64: the two runs differ only in rounding, which the regularized loss damps
# (measured: 5e-15); float32 accumulates more of it over 10,000 steps (measured: 3e-6)
_RTOL = {"float64": 1e-10, "float32": 1e-4}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_tutorial_weights_agree_with_pytensor(dtype):
    pytensor = pytest.importorskip(
        "pytensor", reason="PyTensor is not installed: it is a comparison peer (pip install -e '.[bench]')")
    ref_train, data, labels, ref_w, ref_b = _pytensor_tutorial(pytensor, dtype)
    train, data_, labels_, w, b = _tutorial(dtype, "FAST_RUN")
    np.testing.assert_array_equal(data, data_)
    np.testing.assert_array_equal(ref_w.get_value(), w.get_value())
    ref_costs = np.array([ref_train(data, labels) for _ in range(STEPS)])
    costs = np.array([train(data, labels)[1] for _ in range(STEPS)])
    assert np.isfinite(ref_costs).all() and np.isfinite(costs).all()
    np.testing.assert_allclose(costs, ref_costs, rtol=_RTOL[dtype])
    np.testing.assert_allclose(w.get_value(), ref_w.get_value(), rtol=_RTOL[dtype])
    np.testing.assert_allclose(b.get_value(), ref_b.get_value(), rtol=_RTOL[dtype])
