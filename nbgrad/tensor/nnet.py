"""Neural-network functions (``T.nnet``): softmax, log-softmax, activations and losses."""

from nbgrad.graph.basic import Apply
from nbgrad.graph.op import Op
from nbgrad.tensor.basic import as_tensor_variable
from nbgrad.tensor.math import (
    exp, log, log1p, relu, sigmoid, softplus, sum, tanh,
)
from nbgrad.tensor.type import TensorType

__all__ = [
    "Softmax", "LogSoftmax", "softmax", "log_softmax", "relu", "sigmoid", "softplus", "tanh",
    "categorical_crossentropy", "binary_crossentropy", "elu", "gelu", "silu", "hard_sigmoid",
    "ultra_fast_sigmoid", "logsumexp", "softsign",
]


class Softmax(Op):
    """Numerically stable softmax along ``axis``.

    x̄ = (z̄ − Σ z̄·z) · z ;  ż = z · (ẋ − Σ z·ẋ)   (sums along ``axis``).
    """

    __props__ = ("axis",)
    latex = r"\operatorname{{softmax}}\left({0}\right)"

    def __init__(self, axis=-1):
        self.axis = axis

    def make_node(self, x):
        x = as_tensor_variable(x)
        if x.ndim == 0:
            raise ValueError("softmax needs at least one dimension")
        if x.dtype not in ("float16", "float32", "float64"):
            from nbgrad.tensor.math import cast

            x = cast(x, "float64")
        return Apply(self, [x], [TensorType(x.dtype, x.type.shape)()])

    def perform(self, node, inputs, xp):
        (x,) = inputs
        e = xp.exp(x - x.max(axis=self.axis, keepdims=True))
        e /= e.sum(axis=self.axis, keepdims=True)
        return e

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0]]

    def L_op(self, inputs, outputs, output_grads):
        (z,), (gz,) = outputs, output_grads
        return [(gz - sum(gz * z, axis=self.axis, keepdims=True)) * z]

    def R_op(self, inputs, eval_points):
        (ev,) = eval_points
        if ev is None:
            return [None]
        z = self(inputs[0])
        return [z * (ev - sum(z * ev, axis=self.axis, keepdims=True))]


class LogSoftmax(Op):
    """Numerically stable log-softmax along ``axis``.

    x̄ = z̄ − eᶻ·Σ z̄ ;  ż = ẋ − Σ eᶻ·ẋ.
    """

    __props__ = ("axis",)
    latex = r"\log\operatorname{{softmax}}\left({0}\right)"

    def __init__(self, axis=-1):
        self.axis = axis

    make_node = Softmax.make_node

    def perform(self, node, inputs, xp):
        (x,) = inputs
        s = x - x.max(axis=self.axis, keepdims=True)
        return s - xp.log(xp.exp(s).sum(axis=self.axis, keepdims=True))

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0]]

    def L_op(self, inputs, outputs, output_grads):
        (z,), (gz,) = outputs, output_grads
        return [gz - exp(z) * sum(gz, axis=self.axis, keepdims=True)]

    def R_op(self, inputs, eval_points):
        (ev,) = eval_points
        if ev is None:
            return [None]
        z = self(inputs[0])
        return [ev - sum(exp(z) * ev, axis=self.axis, keepdims=True)]


def softmax(x, axis=-1):
    """exp(x) / Σ exp(x) along ``axis`` (last by default), computed stably."""
    x = as_tensor_variable(x)
    return Softmax(axis % x.ndim)(x)


def log_softmax(x, axis=-1):
    x = as_tensor_variable(x)
    return LogSoftmax(axis % x.ndim)(x)


def logsumexp(x, axis=None, keepdims=False):
    """log Σ exp(x), computed stably."""
    from nbgrad.gradient import zero_grad
    from nbgrad.tensor.math import max as _max

    x = as_tensor_variable(x)
    m = zero_grad(_max(x, axis=axis, keepdims=True))
    out = log(sum(exp(x - m), axis=axis, keepdims=True)) + m
    if not keepdims:
        from nbgrad.tensor.math import _normalize_axis
        from nbgrad.tensor.shape import squeeze

        out = squeeze(out, _normalize_axis(axis, x.ndim))
    return out


def categorical_crossentropy(coding_dist, true_dist):
    """−Σ true·log(coding) per row; ``true_dist`` may be one-hot rows or integer labels."""
    coding_dist = as_tensor_variable(coding_dist)
    true_dist = as_tensor_variable(true_dist)
    if true_dist.ndim == coding_dist.ndim:
        return -sum(true_dist * log(coding_dist), axis=coding_dist.ndim - 1)
    from nbgrad.tensor.shape import arange, shape_i

    rows = arange(shape_i(coding_dist, 0))
    return -log(coding_dist[rows, true_dist])


def binary_crossentropy(output, target):
    """−(t·log(o) + (1−t)·log(1−o)), elementwise."""
    return -(target * log(output) + (1.0 - target) * log1p(-output))


def sigmoid_binary_crossentropy(logits, target):
    """Binary cross-entropy from logits, stable for large |logits|."""
    return softplus(logits) - target * logits


def elu(x, alpha=1.0):
    from nbgrad.tensor.math import expm1, gt, switch

    return switch(gt(x, 0), x, alpha * expm1(x))


def silu(x):
    return x * sigmoid(x)


def gelu(x):
    from nbgrad.tensor.math import erf

    return 0.5 * x * (1.0 + erf(x / 2.0 ** 0.5))


def hard_sigmoid(x):
    from nbgrad.tensor.math import clip

    return clip(0.2 * x + 0.5, 0.0, 1.0)


def softsign(x):
    from nbgrad.tensor.math import abs as _abs

    return x / (1.0 + _abs(x))


ultra_fast_sigmoid = sigmoid
