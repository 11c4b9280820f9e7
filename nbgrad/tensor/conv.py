"""2-D convolution of image batches (``T.nnet.conv2d``), with its gradient ops.

Theano 1.0 semantics: inputs are (batch, channels, rows, columns); filters are
(output channels, input channels, rows, columns). ``filter_flip=True`` (the default)
is a true convolution (the filters are flipped), ``False`` a cross-correlation.

Each op computes on NumPy or CuPy by im2col: the padded input's windows copied into
columns by strided slices, one per kernel offset, and multiplied with the filters in
matrix products, in NCHW order or, for short output rows, with the batch innermost.
The gradient w.r.t. the input is the transposed product followed by col2im (a transposed
convolution, ``Conv2dGradInputs``); the gradient w.r.t. the filters contracts the
input's columns with the output gradient (``Conv2dGradWeights``).
The three ops are each other's adjoints, so every derivative of any order is one of them.

Theano's older spelling ``nbgrad.tensor.nnet.conv.conv2d(input, filters,
image_shape=, filter_shape=, border_mode=, subsample=)`` is registered here as
the module ``nbgrad.tensor.nnet.conv``.
"""

import sys
import types

import numpy as np

from nbgrad.graph.basic import Apply
from nbgrad.graph.op import Op
from nbgrad.graph.nograd import disconnected_type
from nbgrad.scalar.basic import PREC_MUL, upcast
from nbgrad.tensor.basic import as_tensor_variable
from nbgrad.tensor.math import cast
from nbgrad.tensor.batching import is_batched
from nbgrad.tensor.shape import reshape, shape, shape_i
from nbgrad.tensor.type import TensorType

__all__ = ["Conv2d", "Conv2dGradInputs", "Conv2dGradWeights", "conv2d"]

_FLOATS = ("float16", "float32", "float64")


# ------------------------------------------------------------------ geometry helpers
def _pair(v, what):
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"conv2d: {what} must be an int or a pair of ints, got {v!r}")
        return (int(v[0]), int(v[1]))
    return (int(v), int(v))


def _border(border_mode):
    """'valid' | 'full' | 'half' | (int, int), from Theano's accepted spellings."""
    if isinstance(border_mode, str):
        if border_mode not in ("valid", "full", "half"):
            raise ValueError(
                f"conv2d: border_mode must be 'valid', 'full', 'half', an int or a pair of ints, "
                f"got {border_mode!r}"
            )
        return border_mode
    pad = _pair(border_mode, "border_mode")
    if min(pad) < 0:
        raise ValueError(f"conv2d: padding must not be negative, got border_mode={border_mode!r}")
    return pad


def _pads(border, kernel, dilation):
    return tuple(_pad1(border, k, d, axis) for axis, (k, d) in enumerate(zip(kernel, dilation)))


def _pad1(border, k, dil, axis):
    """Zero padding along one spatial axis for a filter of size ``k`` (a number or a graph)."""
    if border == "valid":
        return 0
    if border == "full":
        return (k - 1) * dil
    if border == "half":
        return (k // 2) * dil
    return border[axis]


def _check_fits(padded_hw, kernel, dilation):
    eh, ew = ((k - 1) * d + 1 for k, d in zip(kernel, dilation))
    if padded_hw[0] < eh or padded_hw[1] < ew:
        raise ValueError(
            f"conv2d: the (padded) input of spatial shape {tuple(padded_hw)} is smaller than "
            f"the (dilated) filter of shape {(eh, ew)}; use a larger input or border_mode='full'/'half'"
        )


def _flip(w):
    return w[:, :, ::-1, ::-1]


# ------------------------------------------------------- batch-innermost layout
# In NCHW order an image row of the output is the longest contiguous run that im2col copies
# and col2im adds: a few elements in the small maps of a LeNet's second layer, where every
# copy is then a crawl of short strided pieces. With the batch moved innermost, (C, H, W, N),
# each kernel offset's plane is a run of OW·N elements, the columns are one
# (C·kh·kw, OH·OW·N) matrix, and each op is one large matrix product. The price is the
# transposed copies in and out, cheap next to the short-run copies when rows are short.
_SHORT_ROWS = 16


def _batch_inner(n, ow):
    """Whether the batch-innermost layout is the faster one for ``n`` images with output rows of ``ow``.

    Measured on one core at LeNet-5's shapes: for 8-wide output rows the batch-innermost
    kernels take 0.6-0.7 times the NCHW ones, for 24-wide rows 1.1-2 times.
    """
    return n > 1 and ow < _SHORT_ROWS


def _to_batch_inner(xp, x):
    """(N, ...) as a contiguous (..., N): the transpose of x seen as an (N, rest) matrix.

    When the images lie a multiple of 4 KiB apart (a (16, 8, 8) float32 map: 4 KiB), a plain
    transposed copy reads N addresses that share one set of the CPU cache, each evicting the
    last; copying 8 images at a time keeps their lines cached (0.04 instead of 0.2 ms at 64
    such images).
    """
    n = x.shape[0]
    m = x.reshape(n, -1)
    if xp is not np or (m.shape[1] * m.itemsize) % 4096:
        return xp.ascontiguousarray(m.T).reshape(*x.shape[1:], n)
    out = np.empty(m.shape[::-1], dtype=m.dtype)
    for k in range(0, n, 8):
        out[:, k:k + 8] = m[k:k + 8].T
    return out.reshape(*x.shape[1:], n)


def _from_batch_inner(xp, y):
    """(..., N) as a contiguous (N, ...): the inverse of ``_to_batch_inner``."""
    n = y.shape[-1]
    return xp.ascontiguousarray(y.reshape(-1, n).T).reshape(n, *y.shape[:-1])


def _offset(a, d, s, size):
    """The slice of padded rows (or columns) that kernel offset ``a`` reads for ``size`` outputs."""
    return slice(a * d, a * d + (size - 1) * s + 1, s)


def _columns(xp, x, kernel, pads, stride, dilation, out_hw):
    """The im2col columns of images ``x`` (N, C, H, W), (N, C·kh·kw, OH·OW).

    Built in two passes of long copies: first the kw column offsets, (N, C, kw, H, OW) (runs of
    OW), then the kh row offsets of that, whole (OH, OW) planes when the row stride is 1. Twice
    as fast as kh·kw copies of one-row runs from a window view.
    """
    (kh, kw), (ph, pw), (sh, sw), (dh, dw), (oh, ow) = kernel, pads, stride, dilation, out_hw
    if ph or pw:
        x = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, c, h, _ = x.shape
    shifted = xp.empty((n, c, kw, h, ow), dtype=x.dtype)
    for b in range(kw):
        shifted[:, :, b] = x[:, :, :, _offset(b, dw, sw, ow)]
    cols = xp.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for a in range(kh):
        cols[:, :, a] = shifted[:, :, :, _offset(a, dh, sh, oh)]
    return cols.reshape(n, c * kh * kw, oh * ow)


def _columns_batch_inner(xp, x, kernel, pads, stride, dilation, out_hw):
    """The im2col columns of images ``x`` (N, C, H, W) as one (C·kh·kw, OH·OW·N) matrix.

    Row (c, a, b) holds the padded input at kernel offset (a, b) of channel c for every
    output position and image, the image innermost.
    """
    (kh, kw), (ph, pw), (sh, sw), (dh, dw), (oh, ow) = kernel, pads, stride, dilation, out_hw
    xt = _to_batch_inner(xp, x)
    if ph or pw:
        xt = xp.pad(xt, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    _check_fits(xt.shape[1:3], kernel, dilation)
    c, n = xt.shape[0], xt.shape[3]
    cols = xp.empty((c, kh, kw, oh, ow, n), dtype=x.dtype)
    for a in range(kh):
        for b in range(kw):
            cols[:, a, b] = xt[:, _offset(a, dh, sh, oh), _offset(b, dw, sw, ow)]
    return cols.reshape(c * kh * kw, oh * ow * n)


def _out_hw(hw, kernel, pads, stride, dilation):
    return tuple((s + 2 * p - (k - 1) * d - 1) // st + 1
                 for s, k, p, st, d in zip(hw, kernel, pads, stride, dilation))


def _forward(xp, x, w, pads, stride, dilation, batch_inner):
    """y[n, o, i, j] = Σ_{c,a,b} xpad[n, c, i·sh + a·dh, j·sw + b·dw] · w[o, c, a, b] (no flip)."""
    kernel = w.shape[2:]
    _check_fits((x.shape[2] + 2 * pads[0], x.shape[3] + 2 * pads[1]), kernel, dilation)
    out_hw = _out_hw(x.shape[2:], kernel, pads, stride, dilation)
    w2 = xp.ascontiguousarray(w).reshape(w.shape[0], -1)
    if not batch_inner:
        # w (O, C·kh·kw) @ cols (N, C·kh·kw, OH·OW) comes out in NCHW order, no transpose to copy
        cols = _columns(xp, x, kernel, pads, stride, dilation, out_hw)
        return (w2 @ cols).reshape(x.shape[0], w.shape[0], *out_hw)
    cols = _columns_batch_inner(xp, x, kernel, pads, stride, dilation, out_hw)
    return _from_batch_inner(xp, (w2 @ cols).reshape(w.shape[0], *out_hw, x.shape[0]))


def _grad_weights(xp, x, gy, kernel, pads, stride, dilation, batch_inner):
    """gw[o, c, a, b] = Σ_{n,i,j} gy[n, o, i, j] · xpad[n, c, i·sh + a·dh, j·sw + b·dw] (no flip)."""
    n, o, oh, ow = gy.shape
    c = x.shape[1]
    if batch_inner:
        cols = _columns_batch_inner(xp, x, kernel, pads, stride, dilation, (oh, ow))
        g = _to_batch_inner(xp, gy).reshape(o, oh * ow * n)
        # cols @ gᵀ, then the small transpose: BLAS is twice as slow on ``g @ cols.T`` here
        return (cols @ g.T).T.reshape(o, c, *kernel)
    # Σ over examples of gy_n (O, OH·OW) @ cols_nᵀ: one product per example, then their sum
    g = xp.ascontiguousarray(gy).reshape(n, o, oh * ow)
    cols = _columns(xp, x, kernel, pads, stride, dilation, (oh, ow))
    return (g @ cols.transpose(0, 2, 1)).sum(axis=0).reshape(o, c, *kernel)


def _grad_inputs(xp, w, gy, hw, pads, stride, dilation, batch_inner):
    """The adjoint of ``_forward`` in x: col2im of the columns' gradient wᵀ·gy, for images of size ``hw``.

    Each kernel offset's plane of the columns' gradient is added into the padded input where
    the forward pass read it: kh·kw strided additions, no scatter.
    """
    (h, wd), (ph, pw), (sh, sw), (dh, dw) = hw, pads, stride, dilation
    o, c, kh, kw = w.shape
    n, _, oh, ow = gy.shape
    padded = (max(h + 2 * ph, (kh - 1) * dh + sh * (oh - 1) + 1),
              max(wd + 2 * pw, (kw - 1) * dw + sw * (ow - 1) + 1))
    if batch_inner:
        # one product per kernel offset, added while it is still in the cache: 0.65 against
        # 1.0 ms for one product of all the columns then the additions (W12's second layer)
        g = _to_batch_inner(xp, gy).reshape(o, oh * ow * n)
        wt = xp.ascontiguousarray(w.transpose(2, 3, 1, 0))
        xpad = xp.zeros((c, *padded, n), dtype=gy.dtype)
        for a in range(kh):
            for b in range(kw):
                xpad[:, _offset(a, dh, sh, oh), _offset(b, dw, sw, ow)] += (wt[a, b] @ g).reshape(c, oh, ow, n)
        return _from_batch_inner(xp, xpad[:, ph:ph + h, pw:pw + wd])
    w2 = xp.ascontiguousarray(w).reshape(o, c * kh * kw)
    # one product per example, in NCHW order
    g = xp.ascontiguousarray(gy).reshape(n, o, oh * ow)
    cols = (w2.T @ g).reshape(n, c, kh, kw, oh, ow)
    xpad = xp.zeros((n, c, *padded), dtype=gy.dtype)
    for a in range(kh):
        for b in range(kw):
            xpad[:, :, _offset(a, dh, sh, oh), _offset(b, dw, sw, ow)] += cols[:, :, a, b]
    return xp.ascontiguousarray(xpad[:, :, ph:ph + h, pw:pw + wd])


_DEFAULTS = {"border_mode": "valid", "subsample": (1, 1), "filter_flip": True, "filter_dilation": (1, 1)}


class _ConvOp(Op):
    """Properties shared by the forward op and its two gradient ops."""

    __props__ = ("border_mode", "subsample", "filter_flip", "filter_dilation")

    def __init__(self, border_mode="valid", subsample=(1, 1), filter_flip=True, filter_dilation=(1, 1)):
        self.border_mode = _border(border_mode)
        self.subsample = _pair(subsample, "subsample")
        self.filter_dilation = _pair(filter_dilation, "filter_dilation")
        self.filter_flip = bool(filter_flip)
        if min(self.subsample) < 1 or min(self.filter_dilation) < 1:
            raise ValueError(
                f"conv2d: subsample and filter_dilation must be positive, got "
                f"subsample={subsample!r}, filter_dilation={filter_dilation!r}"
            )

    def _settings(self):
        return {"border_mode": self.border_mode, "subsample": self.subsample,
                "filter_flip": self.filter_flip, "filter_dilation": self.filter_dilation}

    def __str__(self):
        extra = [f"{k}={v!r}" for k, v in self._settings().items() if v != _DEFAULTS[k]]
        return f"{self._name}{{{', '.join(extra)}}}" if extra else self._name

    def _pads(self, kernel):
        return _pads(self.border_mode, kernel, self.filter_dilation)

    @staticmethod
    def _float_pair(a, b, what):
        a, b = as_tensor_variable(a), as_tensor_variable(b)
        if a.ndim != 4 or b.ndim != 4:
            raise TypeError(
                f"{what} takes 4-d tensors: (batch, channels, rows, columns) images and "
                f"(output channels, input channels, rows, columns) filters; got {a.type} and {b.type}"
            )
        dtype = upcast(a.dtype, b.dtype)
        if dtype not in _FLOATS:
            dtype = "float64"
        return cast(a, dtype), cast(b, dtype), dtype

    @staticmethod
    def _shape_vector(s, what):
        s = as_tensor_variable(s)
        if s.ndim != 1 or not s.dtype.startswith(("int", "uint")):
            raise TypeError(f"{what} must be an integer vector of 2 sizes, got {s.type}")
        return cast(s, "int64")


# ----------------------------------------------------------------------- forward
class Conv2d(_ConvOp):
    """y = x ⋆ W: 2-D convolution of images ``x`` (N, C, H, W) with filters ``W`` (O, C, kh, kw).

    y[n, o, i, j] = Σ_{c,a,b} xpad[n, c, i·sh + a·dh, j·sw + b·dw] · W'[o, c, a, b], where W'
    is W flipped in both spatial axes when ``filter_flip`` (a true convolution).
    x̄ = Conv2dGradInputs(W, ȳ) ; W̄ = Conv2dGradWeights(x, ȳ) ; ẏ = ẋ ⋆ W + x ⋆ Ẇ (bilinear).
    """

    _name = "conv2d"
    latex = r"{0} \star {1}"
    precedence = PREC_MUL

    def make_node(self, x, w):
        x, w, dtype = self._float_pair(x, w, "conv2d")
        xs, ws = x.type.shape, w.type.shape
        if xs[1] is not None and ws[1] is not None and xs[1] != ws[1]:
            raise ValueError(
                f"conv2d: the images have {xs[1]} channels but the filters expect {ws[1]} "
                f"(filters are (output channels, input channels, rows, columns)); got {x.type} and {w.type}"
            )
        spatial = [None if xs[2 + k] is None or ws[2 + k] is None
                   else _symbolic_out_size(self, xs[2 + k], ws[2 + k], k) for k in range(2)]
        for k, size in enumerate(spatial):
            if size is not None and size < 1:
                raise ValueError(
                    f"conv2d: images of {xs[2 + k]} along axis {2 + k} are smaller than the filters' "
                    f"{ws[2 + k]} (dilation {self.filter_dilation[k]}) with border_mode="
                    f"{self.border_mode!r}; use a larger input or border_mode='full'/'half'"
                )
        shape = tuple(None if s in (1, None) else s for s in (xs[0], ws[0], *spatial))
        return Apply(self, [x, w], [TensorType(dtype, shape)()])

    def perform(self, node, inputs, xp):
        x, w = inputs
        pads = self._pads(w.shape[2:])
        out_w = _out_hw(x.shape[2:], w.shape[2:], pads, self.subsample, self.filter_dilation)[1]
        return _forward(xp, x, _flip(w) if self.filter_flip else w, pads, self.subsample,
                        self.filter_dilation, _batch_inner(x.shape[0], out_w))

    def infer_shape(self, fgraph, node, input_shapes):
        xs, ws = input_shapes
        out = [xs[0], ws[0]]
        for k in range(2):
            out.append(_symbolic_out_size(self, xs[2 + k], ws[2 + k], k))
        return [tuple(out)]

    def L_op(self, inputs, outputs, output_grads):
        x, w = inputs
        (gy,) = output_grads
        props = self._settings()
        return [Conv2dGradInputs(**props)(w, gy, shape(x)[2:]),
                Conv2dGradWeights(**props)(x, gy, shape(w)[2:])]

    def R_op(self, inputs, eval_points):
        x, w = inputs
        ex, ew = eval_points
        terms = []
        if ex is not None:
            terms.append(self(ex, w))
        if ew is not None:
            terms.append(self(x, ew))
        if not terms:
            return [None]
        return [terms[0] if len(terms) == 1 else terms[0] + terms[1]]

    def vectorize_node(self, node, inputs):
        """Every entry's images as one batch of images, (B, N, C, H, W) as (B·N, C, H, W), and back.

        Batched filters loop: each entry has filters of its own.
        """
        x, w = inputs
        if is_batched(w, node.inputs[1]):
            return None
        return [_split_examples(self(_merge_examples(x), w), x)]


def _merge_examples(x):
    """A batch of image batches as one: (B, N, C, H, W) as (B·N, C, H, W)."""
    return reshape(x, (-1, *[shape_i(x, i) for i in range(2, 5)]))


def _split_examples(y, like):
    """(B·N, ...) images back as (B, N, ...), with B and N those of ``like``."""
    return reshape(y, (shape_i(like, 0), shape_i(like, 1), *[shape_i(y, i) for i in range(1, 4)]))


def _symbolic_out_size(op, size, k_size, k):
    """Output size along spatial axis ``k`` (numbers or graphs): (size + 2·pad − eff) // stride + 1."""
    d, s = op.filter_dilation[k], op.subsample[k]
    return (size + 2 * _pad1(op.border_mode, k_size, d, k) - ((k_size - 1) * d + 1)) // s + 1


# --------------------------------------------------------------------- gradients
class Conv2dGradInputs(_ConvOp):
    """x̄ = the transposed convolution of output gradients ``gy`` with filters ``W``.

    x̄[n, c, p, q] = Σ_{o,i,j,a,b : p + ph = i·sh + a·dh, q + pw = j·sw + b·dw} gy[n, o, i, j] · W'[o, c, a, b],
    for an input of spatial shape ``shape`` (needed: with a stride, several input sizes give
    the same output size). Linear in ``W`` and in ``gy``:
    W̄ = Conv2dGradWeights(r̄, gy) ; ḡy = r̄ ⋆ W ; ṙ = GI(Ẇ, gy) + GI(W, ġy).
    """

    _name = "conv2d_grad_inputs"

    def make_node(self, w, gy, shape):
        w, gy, dtype = self._float_pair(w, gy, "conv2d_grad_inputs")
        shape = self._shape_vector(shape, "conv2d_grad_inputs: the input's spatial shape")
        out = (gy.type.shape[0], w.type.shape[1], None, None)
        out = tuple(None if s == 1 else s for s in out)
        return Apply(self, [w, gy, shape], [TensorType(dtype, out)()])

    def perform(self, node, inputs, xp):
        w, gy, shape = inputs
        pads = self._pads(w.shape[2:])
        return _grad_inputs(xp, _flip(w) if self.filter_flip else w, gy, tuple(int(s) for s in shape),
                            pads, self.subsample, self.filter_dilation, _batch_inner(gy.shape[0], gy.shape[3]))

    def infer_shape(self, fgraph, node, input_shapes):
        ws, gs, _ = input_shapes
        shape = node.inputs[2]
        return [(gs[0], ws[1], shape[0], shape[1])]

    def L_op(self, inputs, outputs, output_grads):
        w, gy, _ = inputs
        (gr,) = output_grads
        props = self._settings()
        return [Conv2dGradWeights(**props)(gr, gy, shape(w)[2:]), Conv2d(**props)(gr, w),
                disconnected_type()]

    def R_op(self, inputs, eval_points):
        w, gy, shape = inputs
        ew, eg, _ = eval_points
        terms = []
        if ew is not None:
            terms.append(self(ew, gy, shape))
        if eg is not None:
            terms.append(self(w, eg, shape))
        if not terms:
            return [None]
        return [terms[0] if len(terms) == 1 else terms[0] + terms[1]]

    def connection_pattern(self, node):
        return [[True], [True], [False]]

    def vectorize_node(self, node, inputs):
        """Every entry's output gradients as one batch, as ``Conv2d``'s rule; batched filters
        or input sizes loop."""
        w, gy, shape = inputs
        if is_batched(w, node.inputs[0]) or is_batched(shape, node.inputs[2]):
            return None
        return [_split_examples(self(w, _merge_examples(gy), shape), gy)]


class Conv2dGradWeights(_ConvOp):
    """W̄ = the correlation of input windows with output gradients ``gy``.

    W̄[o, c, a, b] = Σ_{n,i,j} gy[n, o, i, j] · xpad[n, c, i·sh + a·dh, j·sw + b·dw] (flipped back
    in a, b when ``filter_flip``), for filters of spatial shape ``shape``. Linear in ``x`` and ``gy``:
    x̄ = Conv2dGradInputs(w̄, gy) ; ḡy = x ⋆ w̄ ; ẇ = GW(ẋ, gy) + GW(x, ġy).
    """

    _name = "conv2d_grad_weights"

    def make_node(self, x, gy, shape):
        x, gy, dtype = self._float_pair(x, gy, "conv2d_grad_weights")
        shape = self._shape_vector(shape, "conv2d_grad_weights: the filters' spatial shape")
        out = tuple(None if s == 1 else s for s in (gy.type.shape[1], x.type.shape[1], None, None))
        return Apply(self, [x, gy, shape], [TensorType(dtype, out)()])

    def perform(self, node, inputs, xp):
        x, gy, shape = inputs
        kernel = tuple(int(s) for s in shape)
        gw = _grad_weights(xp, x, gy, kernel, self._pads(kernel), self.subsample, self.filter_dilation,
                           _batch_inner(gy.shape[0], gy.shape[3]))
        return xp.ascontiguousarray(_flip(gw) if self.filter_flip else gw)

    def infer_shape(self, fgraph, node, input_shapes):
        xs, gs, _ = input_shapes
        shape = node.inputs[2]
        return [(gs[1], xs[1], shape[0], shape[1])]

    def L_op(self, inputs, outputs, output_grads):
        x, gy, _ = inputs
        (gr,) = output_grads
        props = self._settings()
        return [Conv2dGradInputs(**props)(gr, gy, shape(x)[2:]), Conv2d(**props)(x, gr),
                disconnected_type()]

    def R_op(self, inputs, eval_points):
        x, gy, shape = inputs
        ex, eg, _ = eval_points
        terms = []
        if ex is not None:
            terms.append(self(ex, gy, shape))
        if eg is not None:
            terms.append(self(x, eg, shape))
        if not terms:
            return [None]
        return [terms[0] if len(terms) == 1 else terms[0] + terms[1]]

    def connection_pattern(self, node):
        return [[True], [True], [False]]


# ------------------------------------------------------------------- public API
def _check_declared(var, declared, what):
    if declared is None:
        return
    declared = tuple(declared)
    if len(declared) != 4:
        raise ValueError(f"conv2d: {what} must have 4 entries (None for unknown), got {declared!r}")
    for k, (s, d) in enumerate(zip(var.type.shape, declared)):
        if s is not None and d is not None and int(d) != s:
            raise ValueError(
                f"conv2d: {what}={declared!r} says axis {k} has size {d}, but {var} has type {var.type}"
            )


def conv2d(input, filters, input_shape=None, filter_shape=None, border_mode="valid",
           subsample=(1, 1), filter_flip=True, filter_dilation=(1, 1), image_shape=None, **kwargs):
    """2-D convolution of a batch of images with a bank of filters (Theano 1.0's ``conv2d``).

    Parameters
    ----------
    input : 4-d tensor
        Images, (batch, input channels, rows, columns).
    filters : 4-d tensor
        Filters, (output channels, input channels, filter rows, filter columns).
    input_shape, filter_shape : tuple of 4 ints or None, optional
        Shapes the caller knows; checked against the variables' static shapes.
        ``image_shape`` is the older name of ``input_shape``.
    border_mode : {'valid', 'full', 'half'} or int or (int, int)
        'valid': only where the filter fits (output rows − filter rows + 1); 'full':
        wherever filter and image overlap; 'half': pad by half the filter size (same size
        for odd filters and stride 1); an int or a pair pads with zeros.
    subsample : (int, int)
        Stride along rows and columns.
    filter_flip : bool
        True (default): convolution, the filters are flipped; False: cross-correlation.
    filter_dilation : (int, int)
        Spacing between filter taps (atrous convolution).

    Returns
    -------
    4-d tensor (batch, output channels, output rows, output columns).

    Examples
    --------
    >>> import numpy as np, nbgrad.tensor as T
    >>> x, w = T.tensor4("x"), T.tensor4("w")
    >>> y = T.nnet.conv2d(x, w, border_mode="half")
    >>> y.eval({x: np.ones((1, 1, 3, 3)), w: np.ones((1, 1, 3, 3))})[0, 0]
    array([[4., 6., 4.],
           [6., 9., 6.],
           [4., 6., 4.]])
    """
    unknown = set(kwargs) - {"filter_shape", "image_shape", "input_shape", "unshared"}
    if unknown:
        raise TypeError(f"conv2d() got unexpected keyword argument(s) {sorted(unknown)}")
    if kwargs.get("unshared"):
        raise NotImplementedError("conv2d: unshared (locally connected) filters are not supported")
    if image_shape is not None and input_shape is not None:
        raise TypeError("conv2d: give input_shape or its older name image_shape, not both")
    input, filters = as_tensor_variable(input), as_tensor_variable(filters)
    _check_declared(input, input_shape if input_shape is not None else image_shape, "input_shape")
    _check_declared(filters, filter_shape, "filter_shape")
    return Conv2d(border_mode, subsample, filter_flip, filter_dilation)(input, filters)


def _legacy_conv2d(input, filters, filter_shape=None, image_shape=None, border_mode="valid",
                   subsample=(1, 1), **kwargs):
    """Theano's older ``nnet.conv.conv2d``: a true convolution, 'valid' or 'full' borders."""
    if border_mode not in ("valid", "full"):
        raise ValueError(
            f"nnet.conv.conv2d: border_mode must be 'valid' or 'full', got {border_mode!r}; "
            "T.nnet.conv2d also takes 'half' and explicit padding"
        )
    kwargs.pop("imshp_logical", None)
    kwargs.pop("kshp_logical", None)
    kwargs.pop("kshp_logical_top_aligned", None)
    kwargs.pop("verbose", None)
    kwargs.pop("unroll_batch", None)
    kwargs.pop("unroll_kern", None)
    kwargs.pop("unroll_patch", None)
    return conv2d(input, filters, input_shape=image_shape, filter_shape=filter_shape,
                  border_mode=border_mode, subsample=subsample, **kwargs)


_legacy = types.ModuleType(
    "nbgrad.tensor.nnet.conv",
    "Theano's older convolution module: ``conv2d(input, filters, filter_shape=, image_shape=, "
    "border_mode='valid'|'full', subsample=)``, a true convolution.",
)
_legacy.conv2d = _legacy_conv2d
_legacy.__all__ = ["conv2d"]
_legacy_conv2d.__module__ = "nbgrad.tensor.nnet.conv"
_legacy_conv2d.__name__ = _legacy_conv2d.__qualname__ = "conv2d"
sys.modules.setdefault("nbgrad.tensor.nnet.conv", _legacy)
nnet_conv = sys.modules["nbgrad.tensor.nnet.conv"]
