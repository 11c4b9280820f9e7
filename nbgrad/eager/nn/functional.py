"""``torch.nn.functional`` on nbgrad.eager: activations and losses.

Each loss is one eager function (one primitive, one tape node) built from the
engine's ops, so its gradient comes from those ops' rules: ``cross_entropy``
with class labels is ``T.nnet.softmax_cross_entropy`` (one fused op for the
value and one for the gradient), then the reduction.

Where PyTorch has an option that nbgrad does not implement, the call raises
``NotImplementedError`` naming the option and what to use instead, rather than
giving a different result.

>>> import nbgrad.eager as torch
>>> import nbgrad.eager.nn.functional as F
>>> F.cross_entropy(torch.zeros(2, 4), torch.tensor([0, 3])).item()
1.3862943...
"""

import warnings

import numpy as np

import nbgrad.tensor as T
from nbgrad.eager import torchlike as _tl
from nbgrad.eager.functions import FUNCTIONS as _F, eager_function, _rng
from nbgrad.eager.tensor import Tensor, as_tensor
from nbgrad.tensor.shape import arange as _arange, shape_i as _shape_i

__all__ = [
    "relu", "sigmoid", "tanh", "softmax", "log_softmax", "gelu", "silu", "softplus", "elu",
    "leaky_relu", "linear", "dropout", "cross_entropy", "nll_loss", "mse_loss", "l1_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits",
]

_REDUCTIONS = ("mean", "sum", "none")


def _reduction(name, reduction, size_average=None, reduce=None):
    if size_average is not None or reduce is not None:
        raise NotImplementedError(
            f"{name}(): size_average= and reduce= are PyTorch's deprecated arguments; pass "
            "reduction='mean', 'sum' or 'none' instead")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}(): {reduction!r} is not a valid value for reduction; use "
                         "'mean', 'sum' or 'none'")
    return reduction


def _reduce(loss, reduction):
    """The symbolic ``loss`` reduced as PyTorch's ``reduction`` says."""
    if reduction == "mean":
        return T.mean(loss)
    if reduction == "sum":
        return T.sum(loss)
    return loss


def _t(x):
    return x if isinstance(x, Tensor) else as_tensor(x)


def _unsupported(name, option, instead):
    raise NotImplementedError(f"{name}(): PyTorch's {option} is not implemented in nbgrad.eager; "
                              f"{instead}")


# ------------------------------------------------------------------ activations
def relu(input, inplace=False):
    """max(x, 0) elementwise, as ``torch.nn.functional.relu``."""
    out = _F["relu"](input)
    return input.copy_(out) if inplace else out


def sigmoid(input):
    """1 / (1 + exp(-x)) elementwise."""
    return _F["sigmoid"](input)


def tanh(input):
    return _F["tanh"](input)


def gelu(input, approximate="none"):
    if approximate != "none":
        _unsupported("gelu", f"approximate={approximate!r}", "use approximate='none' (erf form)")
    return _F["gelu"](input)


def silu(input, inplace=False):
    return _F["silu"](input)


def softplus(input, beta=1.0, threshold=20.0):
    if beta != 1.0:
        return _F["softplus"](input * beta) / beta
    return _F["softplus"](input)


def elu(input, alpha=1.0, inplace=False):
    return _F["elu"](input, alpha)


_leaky = eager_function(lambda x, slope: T.switch(T.gt(x, 0), x, x * np.asarray(slope, x.dtype)),
                        "leaky_relu")


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x where x > 0, else ``negative_slope`` * x."""
    return _leaky(_t(input), float(negative_slope))


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """Softmax along ``dim``, as ``torch.nn.functional.softmax``."""
    return _tl.softmax(input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """log(softmax(x)) along ``dim``, computed stably."""
    return _tl.log_softmax(input, dim, dtype)


_linear = eager_function(lambda x, w, b: T.matmul(x, w.T) + b, "linear")
_linear_nobias = eager_function(lambda x, w: T.matmul(x, w.T), "linear")


def linear(input, weight, bias=None):
    """``input @ weight.T + bias``: weight has shape (out_features, in_features)."""
    x, w = _t(input), _t(weight)
    if w.ndim != 2 or x.ndim < 1 or x.shape[-1] != w.shape[1]:
        raise RuntimeError(
            f"linear(): mat1 and mat2 shapes cannot be multiplied (input {tuple(x.shape)}, "
            f"weight {tuple(w.shape)} is (out_features, in_features)); the last dimension of "
            "the input must equal in_features")
    return _linear_nobias(x, w) if bias is None else _linear(x, w, _t(bias))


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p), when training.

    The mask is drawn from the generator seeded by ``manual_seed`` (not
    PyTorch's stream, so the zeroed elements differ from PyTorch's).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    x = _t(input)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = (_rng[0].random(x.shape) >= p).astype(x.dtype) / np.asarray(1.0 - p, x.dtype)
    if x.device != "cpu":
        keep = _tl.as_tensor(keep, device=x.device)
    out = x * keep
    return input.copy_(out) if inplace else out


# ------------------------------------------------------------------ losses
_xent_labels = eager_function(
    lambda z, y, reduction: _reduce(T.nnet.softmax_cross_entropy(z, y), reduction),
    "cross_entropy")
_xent_probs = eager_function(
    lambda z, p, reduction: _reduce(-T.sum(p * T.nnet.log_softmax(z, axis=1), axis=1), reduction),
    "cross_entropy")
_nll = eager_function(
    lambda z, y, reduction: _reduce(-z[_arange(_shape_i(z, 0)), y], reduction), "nll_loss")


def _classes_last(name, x, target):
    """(N, C, d1, ...) logits and (N, d1, ...) labels as (N*d1*..., C) and (N*d1*...,)."""
    if x.ndim == 1:
        return x.unsqueeze(0), target.reshape(1) if target.ndim == 0 else target.unsqueeze(0), ()
    if x.ndim == 2:
        return x, target, None
    rest = tuple(x.shape[2:])
    order = (0,) + tuple(range(2, x.ndim)) + (1,)
    z = x.permute(order).reshape(-1, x.shape[1])
    y = target.reshape(-1) if target.dtype.kind in "iu" else \
        target.permute(order).reshape(-1, x.shape[1])
    return z, y, (x.shape[0],) + rest


def _check_labels(name, x, y, ignore_index):
    if y.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): class labels must be an integer tensor (e.g. .long()), got "
                           f"dtype {y.dtype}")
    labels = y._host()
    if labels.size and (labels == ignore_index).any():
        _unsupported(name, f"ignore_index (labels equal to {ignore_index})",
                     "drop those rows first (x[mask], y[mask])")
    k = x.shape[1]
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        bad = labels.min() if labels.min() < 0 else labels.max()
        raise IndexError(f"{name}(): Target {int(bad)} is out of bounds for {k} classes; labels "
                         f"must lie in [0, {k})")


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy of logits ``input`` against ``target``, as PyTorch's.

    ``input`` has shape (N, C) (or (C,), or (N, C, d1, ...)); ``target`` is
    either integer class labels of shape (N,) or class probabilities of the
    input's shape. ``reduction`` is ``'mean'`` (default), ``'sum'`` or
    ``'none'``.

    >>> import nbgrad.eager as torch
    >>> z = torch.tensor([[2.0, 0.0], [0.0, 2.0]], requires_grad=True)
    >>> loss = torch.nn.functional.cross_entropy(z, torch.tensor([0, 0]))
    >>> round(loss.item(), 4)
    1.1269
    """
    reduction = _reduction("cross_entropy", reduction, size_average, reduce)
    if weight is not None:
        _unsupported("cross_entropy", "weight= (per-class weights)",
                     "multiply the per-sample losses of reduction='none' by weight[target]")
    if label_smoothing:
        _unsupported("cross_entropy", "label_smoothing", "pass smoothed class probabilities "
                     "as the target instead")
    x, target = _t(input), _t(target)
    if x.dtype.kind != "f":
        raise RuntimeError(f"cross_entropy(): the input must be floating-point logits, got dtype "
                           f"{x.dtype}")
    z, y, shape = _classes_last("cross_entropy", x, target)
    if y.dtype.kind == "f":
        if tuple(y.shape) != tuple(z.shape):
            raise RuntimeError(f"cross_entropy(): class probabilities of shape {tuple(target.shape)} "
                               f"must have the input's shape {tuple(x.shape)}")
        out = _xent_probs(z, y.to(z.dtype), reduction)
    else:
        if y.ndim != 1 or y.shape[0] != z.shape[0]:
            raise ValueError(f"cross_entropy(): expected target of shape ({x.shape[0]},) for input "
                             f"of shape {tuple(x.shape)}, got {tuple(target.shape)}")
        _check_labels("cross_entropy", z, y, ignore_index)
        out = _xent_labels(z, y, reduction)
    if reduction == "none" and shape is not None:
        out = out.reshape(shape)
    return out


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log-likelihood of log-probabilities ``input`` (N, C) at labels ``target`` (N,)."""
    reduction = _reduction("nll_loss", reduction, size_average, reduce)
    if weight is not None:
        _unsupported("nll_loss", "weight=", "weight the losses of reduction='none' yourself")
    x, y = _t(input), _t(target)
    z, y, shape = _classes_last("nll_loss", x, y)
    _check_labels("nll_loss", z, y, ignore_index)
    out = _nll(z, y, reduction)
    return out.reshape(shape) if reduction == "none" and shape is not None else out


def _check_sizes(name, x, y):
    if tuple(x.shape) != tuple(y.shape):
        warnings.warn(
            f"{name}: Using a target size ({_tl.Size(y.shape)}) that is different to the input size "
            f"({_tl.Size(x.shape)}). This will likely lead to incorrect results due to "
            "broadcasting. Please ensure they have the same size.", UserWarning, stacklevel=3)


def _same_float(x, y):
    dt = np.promote_types(x.dtype, y.dtype) if y.dtype.kind == "f" else x.dtype
    return x.to(dt), y.to(dt)


_mse = eager_function(lambda a, b, reduction: _reduce(T.sqr(a - b), reduction), "mse_loss")
_l1 = eager_function(lambda a, b, reduction: _reduce(T.abs(a - b), reduction), "l1_loss")


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """(input - target)^2, averaged (``'mean'``), summed or per element (``'none'``).

    Shapes that differ broadcast with PyTorch's warning (a (n, 1) prediction
    against an (n,) target gives an (n, n) difference).
    """
    reduction = _reduction("mse_loss", reduction, size_average, reduce)
    x, y = _t(input), _t(target)
    _check_sizes("mse_loss", x, y)
    return _mse(*_same_float(x, y), reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """|input - target|, reduced as ``mse_loss``."""
    reduction = _reduction("l1_loss", reduction, size_average, reduce)
    x, y = _t(input), _t(target)
    _check_sizes("l1_loss", x, y)
    return _l1(*_same_float(x, y), reduction)


def _bce_graph(p, t, w, reduction):
    # PyTorch clamps the logarithms at -100 so that p = 0 or 1 gives a finite loss.
    lo = np.asarray(-100.0, p.dtype)
    loss = -(t * T.maximum(T.log(p), lo) + (1 - t) * T.maximum(T.log1p(-p), lo))
    return _reduce(loss if w is None else loss * w, reduction)


def _bce_logits_graph(z, t, w, pw, reduction):
    sp = T.nnet.softplus(-z)  # -log(sigmoid(z)), stable
    loss = (1 - t) * z + (sp if pw is None else (1 + (pw - 1) * t) * sp)
    return _reduce(loss if w is None else loss * w, reduction)


_bce = eager_function(_bce_graph, "binary_cross_entropy")
_bce_logits = eager_function(_bce_logits_graph, "binary_cross_entropy_with_logits")


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """-(t log p + (1 - t) log(1 - p)) of probabilities ``input``; logs clamped at -100."""
    reduction = _reduction("binary_cross_entropy", reduction, size_average, reduce)
    x, y = _t(input), _t(target)
    if tuple(x.shape) != tuple(y.shape):
        raise ValueError(f"binary_cross_entropy(): Using a target size ({_tl.Size(y.shape)}) that "
                         f"is different to the input size ({_tl.Size(x.shape)}) is deprecated. "
                         "Please ensure they have the same size.")
    x, y = _same_float(x, y)
    return _bce(x, y, None if weight is None else _t(weight).to(x.dtype), reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """Binary cross-entropy of ``sigmoid(input)`` against ``target``, computed stably from logits.

    >>> import nbgrad.eager as torch
    >>> F = torch.nn.functional
    >>> round(F.binary_cross_entropy_with_logits(torch.tensor([0.0]), torch.tensor([1.0])).item(), 4)
    0.6931
    """
    reduction = _reduction("binary_cross_entropy_with_logits", reduction, size_average, reduce)
    x, y = _t(input), _t(target)
    if tuple(x.shape) != tuple(y.shape):
        raise ValueError(f"Target size ({_tl.Size(y.shape)}) must be the same as input size "
                         f"({_tl.Size(x.shape)})")
    x, y = _same_float(x, y)
    w = None if weight is None else _t(weight).to(x.dtype)
    pw = None if pos_weight is None else _t(pos_weight).to(x.dtype)
    return _bce_logits(x, y, w, pw, reduction)
