"""Pooling over the last two axes (``pool_2d``), with its gradient ops.

Theano 1.0 semantics: windows of ``ws`` rows and columns, moved by ``stride``
(default ``ws``) over the zero-padded (``pad``) last two axes. ``mode`` is ``'max'``,
``'sum'``, ``'average_inc_pad'`` (divide by the window size, padding included) or
``'average_exc_pad'`` (divide by the number of non-padding entries).
``ignore_border=False`` keeps partial windows at the bottom and right edges (pooling
what they cover); ``True`` drops them. As in Theano 1.0, ``ignore_border=None``
means ``False`` and warns: pass it explicitly.

Every op works on strided slices of the padded input, one per offset inside the window
(``ws`` rows × columns of them): a window's entries at offset (a, b) form one strided
slice over all windows, so the loop runs over window offsets, never over pixels.
"""

import warnings

import numpy as np

from nbgrad.graph.basic import Apply
from nbgrad.graph.op import Op
from nbgrad.graph.nograd import disconnected_type
from nbgrad.tensor.basic import as_tensor_variable
from nbgrad.tensor.batching import is_batched
from nbgrad.tensor.math import maximum, cast, zeros_like
from nbgrad.tensor.shape import batch_size, broadcast_batch
from nbgrad.tensor.type import TensorType

__all__ = ["Pool", "MaxPoolGrad", "MaxPoolGradGrad", "AveragePoolGrad", "pool_2d"]

_MODES = ("max", "sum", "average_inc_pad", "average_exc_pad")


def _out_len(size, ws, st, pad, ignore_border):
    """Number of windows along one axis (an int, or a graph when ``size`` is one)."""
    def max0(v):
        return max(v, 0) if isinstance(v, (int, np.integer)) else maximum(v, 0)

    r = size + 2 * pad
    if ignore_border:
        return max0((r - ws) // st + 1)
    if st >= ws:
        return max0((r - 1) // st + 1)
    return max0((r - 1 - ws + st) // st) + 1


class _PoolOp(Op):
    __props__ = ("ws", "ignore_border", "stride", "pad", "mode")

    def vectorize_node(self, node, inputs):
        """The same op: it pools over the last two axes, so the batch is one more leading axis.

        An unbatched input is repeated over the batch, so that all have one shape.
        """
        size = batch_size(node, inputs)
        inputs = [x if is_batched(x, o) else broadcast_batch(x, size) for x, o in zip(inputs, node.inputs)]
        return self.make_node(*inputs).outputs

    def __init__(self, ws, ignore_border=False, stride=None, pad=(0, 0), mode="max"):
        self.ws = _pair(ws, "ws")
        self.stride = self.ws if stride is None else _pair(stride, "stride")
        self.pad = _pair(pad, "pad")
        self.ignore_border = bool(ignore_border)
        if mode not in _MODES:
            raise ValueError(f"pool_2d: mode must be one of {_MODES}, got {mode!r}")
        self.mode = mode
        if min(self.ws) < 1 or min(self.stride) < 1 or min(self.pad) < 0:
            raise ValueError(
                f"pool_2d: ws and stride must be positive and pad non-negative, got ws={ws!r}, "
                f"stride={stride!r}, pad={pad!r}"
            )
        if any(self.pad) and not self.ignore_border:
            raise ValueError("pool_2d: padding works only with ignore_border=True (as in Theano)")
        if any(p >= w for p, w in zip(self.pad, self.ws)):
            raise ValueError(f"pool_2d: pad {self.pad} must be smaller than the window {self.ws}")

    def _settings(self):
        return {"ws": self.ws, "ignore_border": self.ignore_border, "stride": self.stride,
                "pad": self.pad, "mode": self.mode}

    def __str__(self):
        extra = [f"ws={self.ws}"]
        if self.stride != self.ws:
            extra.append(f"stride={self.stride}")
        if any(self.pad):
            extra.append(f"pad={self.pad}")
        if self.ignore_border:
            extra.append("ignore_border=True")
        if self.mode != "max":
            extra.append(f"mode={self.mode!r}")
        return f"{self._name}{{{', '.join(extra)}}}"

    # --- geometry, shared by the forward and the gradient ops -------------------------
    def _out_shape(self, hw):
        return tuple(int(_out_len(int(s), w, t, p, self.ignore_border))
                     for s, w, t, p in zip(hw, self.ws, self.stride, self.pad))

    def _static_out(self, shape):
        out = [None if s is None else _out_len(s, w, t, p, self.ignore_border)
               for s, w, t, p in zip(shape[-2:], self.ws, self.stride, self.pad)]
        return tuple(None if s in (1, None) else s for s in (*shape[:-2], *out))

    def _padded(self, xp, x, fill):
        """``x`` padded by ``pad`` and, at the end, by what partial windows reach past it."""
        out = self._out_shape(x.shape[-2:])
        widths = [(0, 0)] * (x.ndim - 2)
        for s, o, w, t, p in zip(x.shape[-2:], out, self.ws, self.stride, self.pad):
            extra = max(0, (o - 1) * t + w - (s + 2 * p)) if o else 0
            widths.append((p, p + extra))
        if any(a or b for a, b in widths):
            x = xp.pad(x, widths, constant_values=fill)
        return x, out

    def _offsets(self, out_shape):
        """For each window offset (a, b), the index of the entries it takes in every window."""
        (oh, ow), (wh, ww), (sh, sw) = out_shape, self.ws, self.stride
        for a in range(wh):
            for b in range(ww):
                yield (Ellipsis, slice(a, a + (oh - 1) * sh + 1, sh), slice(b, b + (ow - 1) * sw + 1, sw))

    def _crop(self, xp, g, x_shape):
        (ph, pw) = self.pad
        return xp.ascontiguousarray(g[..., ph:ph + x_shape[-2], pw:pw + x_shape[-1]])

    def _reduce(self, xp, x, fill, ufunc):
        """Each window reduced by ``ufunc``: one strided slice of the padded input per window offset.

        Faster than reducing a window view: NumPy reduces a view's two short trailing
        axes element by element, but combines whole strided slices in one pass each.
        """
        xpad, out_shape = self._padded(xp, x, fill)
        if 0 in out_shape:
            return xp.zeros((*x.shape[:-2], *out_shape), dtype=x.dtype)
        out = None
        for idx in self._offsets(out_shape):
            out = xpad[idx].copy() if out is None else ufunc(out, xpad[idx], out=out)
        return out

    def _counts(self, xp, hw, dtype):
        """Entries each window averages over: (OH, OW), separable into rows × columns."""
        per_axis = []
        for s, o, w, t, p in zip(hw, self._out_shape(hw), self.ws, self.stride, self.pad):
            start = np.arange(o) * t
            if self.mode == "average_inc_pad":
                n = np.minimum(start + w, s + 2 * p) - start
            else:
                n = np.minimum(start + w, s + p) - np.maximum(start, p)
            per_axis.append(np.maximum(n, 1))
        return xp.asarray(np.multiply.outer(*per_axis).astype(dtype))

    @staticmethod
    def _fill(dtype):
        dt = np.dtype(dtype)
        return -np.inf if dt.kind == "f" else np.iinfo(dt).min


def _pair(v, what):
    if isinstance(v, (tuple, list)) and len(v) == 2:
        return (int(v[0]), int(v[1]))
    if isinstance(v, (int, np.integer)):
        return (int(v), int(v))
    raise ValueError(f"pool_2d: {what} must be a pair of ints (rows, columns), got {v!r}")


def _input(x):
    x = as_tensor_variable(x)
    if x.ndim < 2:
        raise TypeError(f"pool_2d pools over the last two axes; it needs at least 2, got {x.type}")
    return x


class Pool(_PoolOp):
    """y = the max, sum or mean of each window over the last two axes of ``x``.

    max: x̄ = MaxPoolGrad(x, y, ȳ) (ȳ goes to the entries equal to their window's maximum);
    ẏ = MaxPoolGradGrad(x, y, ẋ). sum/average (linear): x̄ = AveragePoolGrad(x, ȳ); ẏ = pool(ẋ).
    """

    _name = "pool_2d"

    @property
    def latex(self):
        name = {"max": "maxpool", "sum": "sumpool"}.get(self.mode, "avgpool")
        return r"\operatorname{{" + name + r"}}\left({0}\right)"

    def make_node(self, x):
        x = _input(x)
        if self.mode != "max" and x.dtype not in ("float16", "float32", "float64"):
            x = cast(x, "float64")
        return Apply(self, [x], [TensorType(x.dtype, self._static_out(x.type.shape))()])

    def perform(self, node, inputs, xp):
        (x,) = inputs
        if self.mode == "max":
            return self._reduce(xp, x, self._fill(x.dtype), xp.maximum)
        total = self._reduce(xp, x, 0, xp.add)
        if self.mode == "sum":
            return total
        return total / self._counts(xp, x.shape[-2:], x.dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        (xs,) = input_shapes
        out = [_out_len(s, w, t, p, self.ignore_border)
               for s, w, t, p in zip(xs[-2:], self.ws, self.stride, self.pad)]
        return [(*xs[:-2], *out)]

    def L_op(self, inputs, outputs, output_grads):
        (x,), (y,), (gy,) = inputs, outputs, output_grads
        if self.mode == "max":
            return [MaxPoolGrad(**self._settings())(x, y, gy)]
        return [AveragePoolGrad(**self._settings())(x, gy)]

    def R_op(self, inputs, eval_points):
        (x,), (ex,) = inputs, eval_points
        if ex is None:
            return [None]
        if self.mode == "max":
            return [MaxPoolGradGrad(**self._settings())(x, self(x), ex)]
        return [self(ex)]


class MaxPoolGrad(_PoolOp):
    """r = ``gy`` sent to the entries of ``x`` equal to their window's maximum ``y`` (summed over windows).

    Piecewise constant in x and y: x̄ = 0, ȳ = 0; linear in gy: ḡy = MaxPoolGradGrad(x, y, r̄).
    """

    _name = "max_pool_grad"

    def make_node(self, x, y, gy):
        x, y, gy = _input(x), _input(y), _input(gy)
        return Apply(self, [x, y, gy], [TensorType(x.dtype, x.type.shape)()])

    def perform(self, node, inputs, xp):
        x, y, gy = inputs
        xpad, out_shape = self._padded(xp, x, self._fill(x.dtype))
        if 0 in out_shape:
            return xp.zeros(x.shape, dtype=x.dtype)
        gy = gy.astype(x.dtype, copy=False)
        if not all(t >= w for t, w in zip(self.stride, self.ws)):
            g = xp.zeros(xpad.shape, dtype=x.dtype)
            for idx in self._offsets(out_shape):
                g[idx] += (xpad[idx] == y) * gy
            return self._crop(xp, g, x.shape)
        # disjoint windows: each entry is in one window at most, so each offset's slice is
        # written once, in place, with no sum; entries outside every window stay 0
        tiled = self.stride == self.ws and all(o * w == s for o, w, s in zip(out_shape, self.ws, xpad.shape[-2:]))
        g = (xp.empty if tiled else xp.zeros)(xpad.shape, dtype=x.dtype)
        hit = xp.empty(y.shape, dtype=bool)
        for idx in self._offsets(out_shape):
            xp.equal(xpad[idx], y, out=hit)
            xp.multiply(hit, gy, out=g[idx])
        return self._crop(xp, g, x.shape)

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0]]

    def L_op(self, inputs, outputs, output_grads):
        x, y, _ = inputs
        return [zeros_like(x), zeros_like(y), MaxPoolGradGrad(**self._settings())(x, y, output_grads[0])]

    def R_op(self, inputs, eval_points):
        x, y, gy = inputs
        if eval_points[2] is None:
            return [None]
        return [self(x, y, eval_points[2])]


class MaxPoolGradGrad(_PoolOp):
    """o = for each window, the sum of ``h`` over the entries of ``x`` equal to the window's maximum ``y``.

    The adjoint of ``MaxPoolGrad`` in its last input: h̄ = MaxPoolGrad(x, y, ō); x̄ = ȳ = 0.
    """

    _name = "max_pool_grad_grad"

    def make_node(self, x, y, h):
        x, y, h = _input(x), _input(y), _input(h)
        return Apply(self, [x, y, h], [TensorType(x.dtype, y.type.shape)()])

    def perform(self, node, inputs, xp):
        x, y, h = inputs
        xpad, out_shape = self._padded(xp, x, self._fill(x.dtype))
        hpad, _ = self._padded(xp, h.astype(x.dtype, copy=False), 0)
        out = xp.zeros(y.shape, dtype=x.dtype)
        if 0 not in out_shape:
            for idx in self._offsets(out_shape):
                out += (xpad[idx] == y) * hpad[idx]
        return out

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[1]]

    def L_op(self, inputs, outputs, output_grads):
        x, y, _ = inputs
        return [zeros_like(x), zeros_like(y), MaxPoolGrad(**self._settings())(x, y, output_grads[0])]

    def R_op(self, inputs, eval_points):
        x, y, h = inputs
        if eval_points[2] is None:
            return [None]
        return [self(x, y, eval_points[2])]


class AveragePoolGrad(_PoolOp):
    """r = ``gy`` (divided by each window's count for the averages) spread over each window.

    Depends on ``x`` only through its shape (disconnected); linear in gy: ḡy = pool(r̄) in the same mode.
    """

    _name = "average_pool_grad"

    def make_node(self, x, gy):
        x, gy = _input(x), _input(gy)
        return Apply(self, [x, gy], [TensorType(gy.dtype, x.type.shape)()])

    def perform(self, node, inputs, xp):
        x, gy = inputs
        if self.mode != "sum":
            gy = gy / self._counts(xp, x.shape[-2:], gy.dtype)
        shape = list(x.shape)
        out_shape = self._out_shape(x.shape[-2:])
        for k, (s, o, w, t, p) in enumerate(zip(x.shape[-2:], out_shape, self.ws, self.stride, self.pad)):
            shape[x.ndim - 2 + k] = max(s + 2 * p, (o - 1) * t + w)
        g = xp.zeros(shape, dtype=gy.dtype)
        if 0 not in out_shape:
            for idx in self._offsets(out_shape):
                g[idx] += gy
        return self._crop(xp, g, x.shape)

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0]]

    def L_op(self, inputs, outputs, output_grads):
        return [disconnected_type(), Pool(**self._settings())(output_grads[0])]

    def R_op(self, inputs, eval_points):
        x, gy = inputs
        if eval_points[1] is None:
            return [None]
        return [self(x, eval_points[1])]

    def connection_pattern(self, node):
        return [[False], [True]]


def pool_2d(input, ws=None, ignore_border=None, stride=None, pad=(0, 0), mode="max",
            ds=None, st=None, padding=None):
    """Pool each ``ws`` window of the last two axes of ``input`` (Theano 1.0's ``pool_2d``).

    Parameters
    ----------
    input : tensor of 2 or more dimensions
        Pooled over its last two axes; leading axes (batch, channels) are kept.
    ws : (int, int)
        Window rows and columns (``ds`` is Theano's older name).
    ignore_border : bool
        False: partial windows at the bottom/right edges are pooled over what they cover
        (output size ceil((n − ws)/stride) + 1); True: they are dropped. None (the default)
        means False, as in Theano 1.0, with a warning: pass it explicitly.
    stride : (int, int), optional
        Step between windows (default ``ws``; ``st`` is the older name).
    pad : (int, int)
        Zero padding of rows and columns (``padding`` is the older name); needs
        ``ignore_border=True`` and must be smaller than the window.
    mode : {'max', 'sum', 'average_inc_pad', 'average_exc_pad'}

    Returns
    -------
    Variable

    Examples
    --------
    >>> import numpy as np, nbgrad.tensor as T
    >>> from nbgrad.tensor.signal.pool import pool_2d
    >>> x = T.tensor4("x")
    >>> v = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> pool_2d(x, (2, 2), ignore_border=True).eval({x: v})[0, 0]
    array([[4.]])
    >>> pool_2d(x, (2, 2), ignore_border=False, mode="average_exc_pad").eval({x: v})[0, 0]
    array([[2. , 3.5],
           [6.5, 8. ]])
    """
    if ws is None:
        ws = ds
    elif ds is not None:
        raise TypeError("pool_2d: give ws or its older name ds, not both")
    if ws is None:
        raise TypeError("pool_2d() needs the window size ws, e.g. pool_2d(x, ws=(2, 2), ignore_border=True)")
    stride = st if stride is None else stride
    if padding is not None:
        pad = padding
    if ignore_border is None:
        warnings.warn(
            "pool_2d: ignore_border=None means ignore_border=False (partial windows at the edges "
            "are pooled), as in Theano 1.0; pass ignore_border=True or False explicitly",
            stacklevel=2,
        )
        ignore_border = False
    return Pool(ws, ignore_border, stride, pad, mode)(input)
