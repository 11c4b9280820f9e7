"""Neural-network functions (``T.nnet``): softmax, log-softmax, activations and losses."""

import numpy as np

from nbgrad.graph.basic import Apply
from nbgrad.graph.op import Op
from nbgrad.graph.nograd import disconnected_type
from nbgrad.scalar.basic import Mul, TrueDiv
from nbgrad.tensor.basic import as_tensor_variable
from nbgrad.tensor.batching import is_batched, shift_axis
from nbgrad.tensor.conv import conv2d  # noqa: F401  (T.nnet.conv2d, as in Theano)
from nbgrad.tensor.conv import nnet_conv as conv  # noqa: F401  (T.nnet.conv.conv2d, Theano's older name)
from nbgrad.tensor.math import (
    exp, expand_reduced, log, log1p, relu, sigmoid, softplus, sum, tanh,
    cast, eq, maximum, switch, _normalize_axis, expm1, gt, erf, clip, abs as _abs,
)
from nbgrad.tensor.elemwise import DimShuffle, Elemwise
from nbgrad.tensor.shape import alloc, arange, batch_size, broadcast_batch, reshape, shape_i
from nbgrad.tensor.type import TensorType

__all__ = [
    "Softmax", "LogSoftmax", "softmax", "log_softmax", "relu", "sigmoid", "softplus", "tanh",
    "categorical_crossentropy", "binary_crossentropy", "elu", "gelu", "silu", "hard_sigmoid",
    "ultra_fast_sigmoid", "logsumexp", "LogSumExp", "softsign", "SoftmaxCrossEntropy", "SoftmaxCrossEntropyGrad",
    "softmax_cross_entropy",
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
        a = _over(gz, z)
        if a is not None:
            # z̄ = a / z: the gradient of log(softmax(x)). Then x̄ = a − z·Σa, the log-softmax
            # gradient, finite also where z underflows to 0 (there a / z · z is inf · 0)
            return [a - sum(a, axis=self.axis, keepdims=True) * z]
        return [(gz - sum(gz * z, axis=self.axis, keepdims=True)) * z]

    def R_op(self, inputs, eval_points):
        (ev,) = eval_points
        if ev is None:
            return [None]
        z = self(inputs[0])
        return [z * (ev - sum(z * ev, axis=self.axis, keepdims=True))]

    def vectorize_node(self, node, inputs):
        """Along the same core axis of each batch entry."""
        return [type(self)(shift_axis(self.axis))(inputs[0])]


def _is_one(v):
    """``v`` is the constant 1 (possibly broadcast by a DimShuffle)."""
    while v.owner is not None and isinstance(v.owner.op, DimShuffle):
        v = v.owner.inputs[0]
    data = getattr(v, "data", None)
    return v.owner is None and data is not None and np.size(data) == 1 and np.asarray(data).item() == 1


def _over(g, z):
    """a if ``g`` is a·(1/z), a/z or 1/z (a = 1) for an a no more broadcast than ``z``, else None."""
    node = g.owner
    if node is None or not isinstance(node.op, Elemwise):
        return None
    sop = node.op.scalar_op
    a = None
    if isinstance(sop, TrueDiv) and node.inputs[1] is z:
        a = node.inputs[0]
    elif isinstance(sop, Mul):
        for r, other in (node.inputs, node.inputs[::-1]):
            if r.owner is not None and isinstance(r.owner.op, Elemwise) and \
                    isinstance(r.owner.op.scalar_op, TrueDiv) and r.owner.inputs[1] is z and _is_one(r.owner.inputs[0]):
                a = other
                break
    if a is None or a.ndim != z.ndim or a.dtype != z.dtype:
        return None
    if any(ab and not zb for ab, zb in zip(a.type.broadcastable, z.type.broadcastable)):
        return None
    return a


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

    vectorize_node = Softmax.vectorize_node


#: Up to this many classes, the CPU ops work on the transposed logits: NumPy reduces a
#: short last axis row by row (``max(axis=1)`` of (256, 10) float32 takes 12 µs), but
#: reduces across rows of the transpose in 1.5 µs. Measured on (256, k): forward plus
#: gradient 52 µs → 24 µs for k = 10, 68 → 49 µs for k = 40; rows win from k = 100 on.
_SHORT_ROWS = 48


def _check_labels(y, k):
    if y.size and (y.min() < 0 or y.max() >= k):
        raise ValueError(
            f"softmax_cross_entropy: labels must lie in [0, {k}) for {k} classes; "
            f"got labels from {int(y.min())} to {int(y.max())}"
        )


class SoftmaxCrossEntropy(Op):
    """Softmax cross-entropy of logits ``z`` (n, k) against integer labels ``y`` (n,), per row.

    ℓᵢ = log Σⱼ exp(zᵢⱼ) − zᵢ,yᵢ, computed stably (the row maximum is subtracted first).
    z̄ = ℓ̄ᵢ · (softmax(z)ᵢ − onehot(yᵢ)) (``SoftmaxCrossEntropyGrad``); the labels get no gradient.
    ż = Σⱼ softmax(z)ᵢⱼ·żᵢⱼ − żᵢ,yᵢ.
    """

    __props__ = ()
    latex = r"\operatorname{{xent}}\left({0}, {1}\right)"

    def make_node(self, z, y):
        z, y = as_tensor_variable(z), as_tensor_variable(y)
        if z.ndim != 2 or y.ndim != 1 or not y.dtype.startswith(("int", "uint")):
            raise TypeError(
                f"softmax_cross_entropy takes logits of 2 dimensions and integer labels of 1, "
                f"got {z.type} and {y.type}"
            )
        if z.dtype not in ("float16", "float32", "float64"):
            z = cast(z, "float64")
        return Apply(self, [z, y], [TensorType(z.dtype, z.type.shape[:1])()])

    def perform(self, node, inputs, xp):
        z, y = inputs
        n, k = z.shape
        if xp.__name__ == "numpy":
            _check_labels(y, k)
        if xp.__name__ == "numpy" and k <= _SHORT_ROWS:
            s = z.T.copy()  # classes along rows (a copy: z is an input, never overwritten)
            s -= s.max(axis=0)
            picked = s[y, xp.arange(n)]
            xp.exp(s, out=s)
            return xp.log(s.sum(axis=0)) - picked
        s = z - z.max(axis=1, keepdims=True)
        picked = s[xp.arange(n), y]
        xp.exp(s, out=s)
        return xp.log(s.sum(axis=1)) - picked

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0][:1]]

    def L_op(self, inputs, outputs, output_grads):
        z, y = inputs
        return [SoftmaxCrossEntropyGrad()(output_grads[0], z, y), disconnected_type()]

    def R_op(self, inputs, eval_points):
        z, y = inputs
        ev = eval_points[0]
        if ev is None:
            return [None]
        return [sum(softmax(z) * ev, axis=1) - ev[arange(shape_i(z, 0)), y]]

    def vectorize_node(self, node, inputs):
        """The rows of every entry as one batch of rows: (B, n, k) logits as (B·n, k), and back."""
        size, rows = batch_size(node, inputs), _rows(node, inputs)
        z, y = _entries(inputs, node.inputs, size)
        return [reshape(self(_merged(z), _merged(y)), (size, rows))]


class SoftmaxCrossEntropyGrad(Op):
    """r = gᵢ · (softmax(z)ᵢ − onehot(yᵢ)): the gradient of ``SoftmaxCrossEntropy``, in one pass.

    With s = softmax(z) and a = r̄ᵢ·gᵢ: ḡᵢ = Σⱼ r̄ᵢⱼ·(s − onehot)ᵢⱼ, z̄ = (a − Σ a·s)·s;
    ṙ = ġᵢ·(s − onehot)ᵢ + gᵢ·s·(ż − Σ s·ż).
    """

    __props__ = ()

    def make_node(self, g, z, y):
        g, z, y = as_tensor_variable(g), as_tensor_variable(z), as_tensor_variable(y)
        if g.dtype != z.dtype:
            g = cast(g, z.dtype)
        return Apply(self, [g, z, y], [TensorType(z.dtype, z.type.shape)()])

    def perform(self, node, inputs, xp):
        g, z, y = inputs
        n, k = z.shape
        if g.ndim and g.shape != (n,):  # a scalar g (a mean's gradient) broadcasts as it is
            g = xp.broadcast_to(g, (n,))
        if xp.__name__ == "numpy" and k <= _SHORT_ROWS:
            e = z.T.copy()  # as in SoftmaxCrossEntropy.perform
            e -= e.max(axis=0)
            xp.exp(e, out=e)
            e *= g / e.sum(axis=0)
            e[y, xp.arange(n)] -= g
            return xp.ascontiguousarray(e.T)
        e = z - z.max(axis=1, keepdims=True)
        xp.exp(e, out=e)
        e *= (g / e.sum(axis=1))[:, None]
        e[xp.arange(n), y] -= g
        return e

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[1]]

    @staticmethod
    def _delta(z, y):
        onehot = cast(eq(y.dimshuffle(0, "x"), arange(shape_i(z, 1)).dimshuffle("x", 0)), z.dtype)
        s = softmax(z)
        return s, s - onehot

    def L_op(self, inputs, outputs, output_grads):
        g, z, y = inputs
        (gr,) = output_grads
        s, d = self._delta(z, y)
        a = gr * g.dimshuffle(0, "x")
        return [sum(gr * d, axis=1), (a - sum(a * s, axis=1, keepdims=True)) * s, disconnected_type()]

    def R_op(self, inputs, eval_points):
        g, z, y = inputs
        eg, ez, _ = eval_points
        if eg is None and ez is None:
            return [None]
        s, d = self._delta(z, y)
        out = 0
        if eg is not None:
            out = eg.dimshuffle(0, "x") * d
        if ez is not None:
            out = out + g.dimshuffle(0, "x") * s * (ez - sum(s * ez, axis=1, keepdims=True))
        return [out]

    def vectorize_node(self, node, inputs):
        """The rows of every entry as one batch of rows, as ``SoftmaxCrossEntropy``'s rule.

        A scalar ``g`` that is not batched still stands for every row; a batched
        one gives each entry's rows its own.
        """
        size, rows = batch_size(node, inputs), _rows(node, inputs)
        g, z, y = inputs
        if node.inputs[0].ndim == 0 and is_batched(g, node.inputs[0]):
            g = alloc(g.dimshuffle(0, "x"), size, rows)
        elif node.inputs[0].ndim == 1 and not is_batched(g, node.inputs[0]):
            g = broadcast_batch(g, size)
        z, y = _entries(inputs[1:], node.inputs[1:], size)
        g = _merged(g) if g.ndim == 2 else g
        return [reshape(self(g, _merged(z), _merged(y)), (size, rows, shape_i(z, 2)))]


def _rows(node, inputs):
    """The number of rows ``n`` of one entry's (n, k) logits (its labels give it too)."""
    z, y = inputs[-2:]
    return shape_i(z, 1) if is_batched(z, node.inputs[-2]) else shape_i(z, 0)


def _entries(inputs, old_inputs, size):
    """``inputs`` with a batch axis each: an unbatched one repeated over the batch."""
    return [x if is_batched(x, o) else broadcast_batch(x, size) for x, o in zip(inputs, old_inputs)]


def _merged(x):
    """A batch of row blocks as one block: (B, n, ...) as (B·n, ...)."""
    return reshape(x, (-1, *[shape_i(x, i) for i in range(2, x.ndim)]))


def softmax_cross_entropy(z, y):
    """Per-row softmax cross-entropy of logits ``z`` (n, k) against integer labels ``y`` (n,).

    One fused, numerically stable op for the value and one for its gradient.

    >>> import numpy as np, nbgrad.tensor as T
    >>> z, y = T.dmatrix("z"), T.lvector("y")
    >>> T.nnet.softmax_cross_entropy(z, y).eval({z: np.zeros((2, 4)), y: [0, 3]}).round(4)
    array([1.3863, 1.3863])
    """
    return SoftmaxCrossEntropy()(z, y)


def softmax(x, axis=None):
    """exp(x) / Σ exp(x) along ``axis`` (last by default), computed stably.

    As in Theano, a vector without an ``axis`` gives a row: the result has shape
    (1, n), so code written for Theano that indexes it as a matrix (``p[0, k]``, or
    ``s[:, 0, :]`` over the steps of a scan) keeps working. Give ``axis=-1`` (or
    ``axis=0``) to get a vector of the same shape instead.

    Examples
    --------
    >>> import nbgrad.tensor as T
    >>> v = T.dvector("v")
    >>> T.nnet.softmax(v).type.shape
    (1, None)
    >>> T.nnet.softmax(v, axis=-1).type.shape
    (None,)
    >>> T.nnet.softmax([0.0, 0.0]).eval().tolist()
    [[0.5, 0.5]]
    """
    x = as_tensor_variable(x)
    if axis is None:
        if x.ndim == 1:
            x = DimShuffle(1, ("x", 0))(x)
        axis = -1
    if x.ndim == 0:
        raise ValueError(f"softmax needs at least one dimension, got the scalar {x}")
    return Softmax(axis % x.ndim)(x)


def log_softmax(x, axis=-1):
    x = as_tensor_variable(x)
    return LogSoftmax(axis % x.ndim)(x)


class LogSumExp(Op):
    """log Σ exp(x) over ``axis`` (a sorted tuple), computed stably.

    The largest entry m is subtracted before exponentiating; where m is infinite
    (an input of +inf, or every input -inf) the shift is 0 instead, as in SciPy, so
    [inf, 1] gives inf and [-inf, -inf] gives -inf rather than nan (inf − inf).

    x̄ = z̄·p ;  ż = Σ p·ẋ, with p = exp(x − z) the softmax of x along ``axis``. Where z
    is +inf, p shares 1 equally among the +inf entries and is 0 elsewhere (the limit of
    the softmax), so [inf, 1] has gradient [1, 0]. Where every entry is -inf, p is nan
    (exp(-inf + inf)), as in JAX: no direction of approach is preferred.
    """

    __props__ = ("axis",)
    latex = r"\operatorname{{logsumexp}}\left({0}\right)"

    def __init__(self, axis):
        self.axis = tuple(axis)

    def __str__(self):
        return f"LogSumExp{{axis={list(self.axis)}}}"

    def make_node(self, x):
        x = as_tensor_variable(x)
        for a in self.axis:
            if not 0 <= a < x.ndim:
                raise ValueError(f"{self}: axis {a} out of range for {x} with {x.ndim} dimension(s)")
        if x.dtype not in ("float16", "float32", "float64"):
            x = cast(x, "float64")
        shape = tuple(s for i, s in enumerate(x.type.shape) if i not in self.axis)
        return Apply(self, [x], [TensorType(x.dtype, shape)()])

    def perform(self, node, inputs, xp):
        (x,) = inputs
        shape = tuple(n for i, n in enumerate(x.shape) if i not in self.axis)
        if x.size == 0:  # an empty sum: log 0
            return xp.full(shape, -np.inf, dtype=x.dtype)
        m = x.max(axis=self.axis, keepdims=True)
        m = xp.where(xp.isfinite(m), m, xp.zeros((), dtype=x.dtype))
        s = xp.exp(x - m).sum(axis=self.axis, keepdims=True)
        with np.errstate(divide="ignore"):  # log 0 = -inf: every entry -inf
            out = xp.log(s) + m
        return xp.asarray(out.reshape(shape))

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(s for i, s in enumerate(input_shapes[0]) if i not in self.axis)]

    def _expand(self, z, x):
        return expand_reduced(z, x.ndim, self.axis)

    def _weights(self, x, z):
        """The softmax p of the docstring, with +inf entries sharing the mass where z is +inf."""
        top = eq(x, np.inf)
        count = sum(cast(top, x.dtype), axis=self.axis, keepdims=True)
        return switch(top, 1.0 / maximum(count, 1.0), exp(x - self._expand(z, x)))

    def L_op(self, inputs, outputs, output_grads):
        (x,), (z,), (gz,) = inputs, outputs, output_grads
        return [self._expand(gz, x) * self._weights(x, z)]

    def R_op(self, inputs, eval_points):
        (x,), (ev,) = inputs, eval_points
        if ev is None:
            return [None]
        return [sum(self._weights(x, self(x)) * ev, axis=self.axis)]

    def vectorize_node(self, node, inputs):
        """The same reduction over the core axes, each moved up by one."""
        return [type(self)(tuple(a + 1 for a in self.axis))(inputs[0])]


def logsumexp(x, axis=None, keepdims=False):
    """log Σ exp(x) over ``axis`` (all axes when None), computed stably.

    Infinite inputs give what the sum does: [inf, 1] → inf, [-inf, -inf] → -inf
    (see ``LogSumExp`` for the gradient there).

    >>> import numpy as np, nbgrad.tensor as T
    >>> x = T.dvector("x")
    >>> T.nnet.logsumexp(x).eval({x: [0.0, np.log(3.0)]})
    array(1.38629436)
    >>> T.nnet.logsumexp(x).eval({x: [np.inf, 1.0]})
    array(inf)
    """
    x = as_tensor_variable(x)
    axes = _normalize_axis(axis, x.ndim)
    out = LogSumExp(axes)(x)
    if keepdims:
        out = LogSumExp(axes)._expand(out, x)
    return out


def categorical_crossentropy(coding_dist, true_dist):
    """−Σ true·log(coding) per row; ``true_dist`` may be one-hot rows or integer labels."""
    coding_dist = as_tensor_variable(coding_dist)
    true_dist = as_tensor_variable(true_dist)
    if true_dist.ndim == coding_dist.ndim:
        return -sum(true_dist * log(coding_dist), axis=coding_dist.ndim - 1)
    node = coding_dist.owner
    if (node is not None and type(node.op) is Softmax and coding_dist.ndim == 2
            and node.op.axis in (-1, 1) and true_dist.dtype.startswith(("int", "uint"))):
        # the softmax's logits are at hand: the fused form is finite for logits far apart,
        # where log of the picked probability would be log 0
        return SoftmaxCrossEntropy()(node.inputs[0], true_dist)
    rows = arange(shape_i(coding_dist, 0))
    return -log(coding_dist[rows, true_dist])


def binary_crossentropy(output, target):
    """−(t·log(o) + (1−t)·log(1−o)), elementwise."""
    return -(target * log(output) + (1.0 - target) * log1p(-output))


def sigmoid_binary_crossentropy(logits, target):
    """Binary cross-entropy from logits, stable for large |logits|."""
    return softplus(logits) - target * logits


def elu(x, alpha=1.0):
    return switch(gt(x, 0), x, alpha * expm1(x))


def silu(x):
    return x * sigmoid(x)


def gelu(x):
    return 0.5 * x * (1.0 + erf(x / 2.0 ** 0.5))


def hard_sigmoid(x):
    return clip(0.2 * x + 0.5, 0.0, 1.0)


def softsign(x):
    return x / (1.0 + _abs(x))


ultra_fast_sigmoid = sigmoid
