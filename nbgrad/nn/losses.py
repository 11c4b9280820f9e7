"""Losses: symbolic scalars from a symbolic prediction and a symbolic target."""

import nbgrad.tensor as T

__all__ = ["mse_loss", "cross_entropy"]


def mse_loss(prediction, target):
    """Mean squared error, ``mean((prediction - target) ** 2)``.

    >>> import nbgrad.tensor as T
    >>> from nbgrad.nn import mse_loss
    >>> p, t = T.dmatrices("p", "t")
    >>> float(mse_loss(p, t).eval({p: [[1.0, 2.0]], t: [[0.0, 0.0]]}))
    2.5
    """
    return T.mean(T.sqr(prediction - target))


def cross_entropy(logits, target):
    """Mean softmax cross-entropy of ``logits`` (n, k) against ``target``.

    ``target`` is either integer class labels of shape (n,) or rows of class
    probabilities (e.g. one-hot) of shape (n, k). The softmax is part of the
    loss (computed stably as a log-softmax): give raw scores, not probabilities.

    >>> import numpy as np, nbgrad.tensor as T
    >>> from nbgrad.nn import cross_entropy
    >>> z, y = T.dmatrix("z"), T.lvector("y")
    >>> round(float(cross_entropy(z, y).eval({z: np.zeros((2, 4)), y: [0, 3]})), 4)
    1.3863
    """
    logits = T.as_tensor_variable(logits)
    target = T.as_tensor_variable(target)
    if logits.ndim == 2 and target.ndim == 1 and not target.dtype.startswith("float"):
        # one fused op for the value and one for the gradient (softmax minus one-hot)
        return T.mean(T.nnet.softmax_cross_entropy(logits, target))
    logp = T.nnet.log_softmax(logits)
    if target.ndim == logits.ndim:
        return -T.mean(T.sum(target * logp, axis=-1))
    if target.ndim != logits.ndim - 1 or target.dtype.startswith("float"):
        raise TypeError(
            f"cross_entropy: target must be integer labels with {logits.ndim - 1} dimension(s) or "
            f"class probabilities with {logits.ndim}; got {target.type}"
        )
    k = logits.shape[logits.ndim - 1]
    labels = target.dimshuffle(*range(target.ndim), "x")
    onehot = T.cast(T.eq(labels, T.arange(k)), logp.dtype)
    return -T.mean(T.sum(onehot * logp, axis=-1))
