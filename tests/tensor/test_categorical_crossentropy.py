"""categorical_crossentropy(softmax(X), labels): finite for logits far apart, in every mode and dtype."""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.printing import latex, pp


def _reference(z, labels):
    """Loss and gradient of Σ (logsumexp(z_i) - z_i,y_i), max-shifted, in float64."""
    z = z.astype(np.float64)
    m = z.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
    soft = np.exp(z - lse[:, None])
    onehot = np.eye(z.shape[1])[labels]
    return (lse - z[np.arange(len(labels)), labels]).sum(), soft - onehot


@pytest.mark.parametrize("mode", ["FAST_RUN", "FAST_COMPILE"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_far_apart_logits_give_a_finite_loss_and_gradient(mode, dtype):
    X, y = T.matrix("X", dtype=dtype), T.lvector("y")
    cost = T.nnet.categorical_crossentropy(T.nnet.softmax(X), y).sum()
    f = nbgrad.function([X, y], [cost, T.grad(cost, X)], mode=mode)
    z = np.array([[1000.0, 0.0, 3.0], [0.0, 2.0, 1.0], [-800.0, 800.0, 0.0]], dtype=dtype)
    labels = np.array([1, 0, 0])
    loss, grad = f(z, labels)
    want_loss, want_grad = _reference(z, labels)
    assert np.isfinite(loss) and np.isfinite(grad).all()
    tol = 1e-12 if dtype == "float64" else 1e-6
    np.testing.assert_allclose(loss, want_loss, rtol=tol)
    np.testing.assert_allclose(grad, want_grad, rtol=tol, atol=tol)


def test_an_out_of_range_label_is_an_error_not_another_class():
    X, y = T.dmatrix("X"), T.lvector("y")
    f = nbgrad.function([X, y], T.nnet.categorical_crossentropy(T.nnet.softmax(X), y))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        f(np.zeros((2, 3)), np.array([0, -1]))


def test_it_reads_as_the_loss_the_user_wrote():
    X, y = T.dmatrix("X"), T.lvector("y")
    loss = T.nnet.categorical_crossentropy(T.nnet.softmax(X), y)
    assert pp(loss) == "categorical_crossentropy(softmax(X), y)"
    assert latex(loss) == r"\operatorname{xent}\left(X, y\right)"


def test_probabilities_that_are_not_a_softmax_keep_the_written_form():
    P, y = T.dmatrix("P"), T.lvector("y")
    loss = T.nnet.categorical_crossentropy(P, y)
    f = nbgrad.function([P, y], loss)
    p = np.array([[0.2, 0.8], [0.5, 0.5]])
    np.testing.assert_allclose(f(p, np.array([1, 0])), -np.log([0.8, 0.5]))
