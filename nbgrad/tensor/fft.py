"""Real-input fast Fourier transforms over all axes but the first (``T.fft.rfft``, ``T.fft.irfft``).

Theano 1.0 semantics: the first axis is a batch; the transform runs over the others.
A complex spectrum is stored as a real array with a trailing axis of 2 (real part,
imaginary part), so ``rfft`` maps (batch, n1, ..., nk) to (batch, n1, ..., nk//2 + 1, 2)
and ``irfft`` maps it back (``is_odd=True`` when nk was odd). ``norm=None`` leaves the
forward transform unscaled and scales the inverse by 1/N (NumPy's convention);
``norm='ortho'`` scales both by 1/√N.

Both ops are linear, and each is the other's adjoint up to a weight on the "middle"
frequency bins of the last axis (those that stand for a positive and a negative
frequency: every bin but the first and, for an even length, the last). With R the
unscaled real FFT, I the unscaled inverse and W_m the weighting of the middle bins by
m: Rᵀ = I·W_½ and Iᵀ = W_2·R. So one op per direction with that weight as a property
covers every derivative of any order: RFFT(m)ᵀ = IRFFT(m/2), IRFFT(m)ᵀ = RFFT(2m).
"""

import numpy as np

from nbgrad.graph.basic import Apply
from nbgrad.graph.nograd import disconnected_type
from nbgrad.graph.op import Op
from nbgrad.scalar.basic import upcast
from nbgrad.tensor.basic import as_tensor_variable
from nbgrad.tensor.batching import is_batched
from nbgrad.tensor.math import cast, sqrt
from nbgrad.tensor.shape import make_vector, reshape, shape_i
from nbgrad.tensor.type import TensorType

__all__ = ["RFFT", "IRFFT", "rfft", "irfft"]

_FLOATS = ("float16", "float32", "float64")


def _float(x, what):
    x = as_tensor_variable(x)
    dtype = x.dtype if x.dtype in _FLOATS else upcast(x.dtype, "float64")
    if dtype not in _FLOATS:
        raise TypeError(f"{what} takes a real tensor, got {x.type}")
    return cast(x, dtype)


def _middle(n):
    """The slice of the middle bins of a half spectrum of a length-``n`` signal."""
    return slice(1, n // 2 + n % 2)


def _weighted(xp, spectrum, n, weight):
    """``spectrum`` (complex, last axis the half spectrum of length ``n``) with its middle bins times ``weight``."""
    if weight == 1.0:
        return spectrum
    out = spectrum.copy()
    out[..., _middle(n)] *= weight
    return out


def _merge_batch(x):
    """``x`` (B, b, ...) as (B·b, ...): the transforms treat every entry of the first axis alike."""
    return reshape(x, (shape_i(x, 0) * shape_i(x, 1), *[shape_i(x, d) for d in range(2, x.ndim)]))


def _split_batch(out, x):
    """``out`` (B·b, ...) back to (B, b, ...) with the leading sizes of ``x``."""
    return reshape(out, (shape_i(x, 0), shape_i(x, 1), *[shape_i(out, d) for d in range(1, out.ndim)]))


def _static(size):
    return None if size in (1, None) else size


class RFFT(Op):
    """y = W_m · R x: the unscaled real FFT of each batch entry, middle bins times ``middle``.

    x (batch, n1, ..., nk) real → y (batch, n1, ..., nk//2 + 1, 2), real and imaginary parts.
    x̄ = IRFFT(m/2)(ȳ, x.shape[1:]) ; ẏ = RFFT(m)(ẋ) (linear).
    """

    __props__ = ("middle",)

    def __init__(self, middle=1.0):
        self.middle = float(middle)

    def __str__(self):
        return "rfft" if self.middle == 1.0 else f"rfft{{middle={self.middle:g}}}"

    def make_node(self, x):
        x = _float(x, "rfft")
        if x.ndim < 2:
            raise TypeError(f"rfft takes a batch of signals (at least 2 axes: batch, samples), got {x.type}")
        s = x.type.shape
        last = None if s[-1] is None else s[-1] // 2 + 1
        out = tuple(_static(d) for d in (*s[:-1], last)) + (2,)
        return Apply(self, [x], [TensorType(x.dtype, out)()])

    def perform(self, node, inputs, xp):
        (x,) = inputs
        axes = tuple(range(1, x.ndim))
        spectrum = _weighted(xp, xp.fft.rfftn(x, axes=axes), x.shape[-1], self.middle)
        return xp.stack([spectrum.real, spectrum.imag], axis=-1).astype(x.dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        (xs,) = input_shapes
        return [(*xs[:-1], xs[-1] // 2 + 1, 2)]

    def L_op(self, inputs, outputs, output_grads):
        (x,) = inputs
        (gy,) = output_grads
        sizes = make_vector(*[shape_i(x, i) for i in range(1, x.ndim)])
        return [IRFFT(self.middle / 2)(gy, sizes)]

    def vectorize_node(self, node, inputs):
        (x,) = inputs
        if not is_batched(x, node.inputs[0]):
            return [self(x)]
        return [_split_batch(self(_merge_batch(x)), x)]

    def R_op(self, inputs, eval_points):
        (ex,) = eval_points
        return [None if ex is None else self(ex)]


class IRFFT(Op):
    """x = I · W_m y: the unscaled inverse of ``RFFT`` (middle bins of y times ``middle`` first).

    y (batch, n1, ..., nk//2 + 1, 2) → x (batch, n1, ..., nk) for the sizes ``s = (n1, ..., nk)``
    (given, because nk//2 + 1 bins come from an even and an odd nk alike).
    ȳ = RFFT(2m)(x̄) ; ẋ = IRFFT(m)(ẏ, s) (linear; no gradient to the sizes).
    """

    __props__ = ("middle",)

    def __init__(self, middle=1.0):
        self.middle = float(middle)

    def __str__(self):
        return "irfft" if self.middle == 1.0 else f"irfft{{middle={self.middle:g}}}"

    def make_node(self, y, sizes):
        y = _float(y, "irfft")
        if y.ndim < 3 or y.type.shape[-1] not in (2, None):
            raise TypeError(
                f"irfft takes a batch of half spectra stored as (batch, ..., bins, 2) real and "
                f"imaginary parts, got {y.type}"
            )
        sizes = as_tensor_variable(sizes)
        if sizes.ndim != 1 or not sizes.dtype.startswith(("int", "uint")):
            raise TypeError(f"irfft: the signal sizes must be an integer vector, got {sizes.type}")
        sizes = cast(sizes, "int64")
        out = (_static(y.type.shape[0]),) + (None,) * (y.ndim - 2)
        return Apply(self, [y, sizes], [TensorType(y.dtype, out)()])

    def perform(self, node, inputs, xp):
        y, sizes = inputs
        s = tuple(int(v) for v in sizes)
        if len(s) != y.ndim - 2:
            raise ValueError(f"irfft: {len(s)} signal sizes given for a spectrum of shape {y.shape}")
        spectrum = _weighted(xp, y[..., 0] + 1j * y[..., 1], s[-1], self.middle)
        x = xp.fft.irfftn(spectrum, s=s, axes=tuple(range(1, y.ndim - 1)))
        return (x * float(np.prod(s))).astype(y.dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        ys, _ = input_shapes
        sizes = node.inputs[1]
        return [(ys[0], *[sizes[i] for i in range(len(ys) - 2)])]

    def L_op(self, inputs, outputs, output_grads):
        (gx,) = output_grads
        return [RFFT(2 * self.middle)(gx), disconnected_type()]

    def vectorize_node(self, node, inputs):
        y, sizes = inputs
        if is_batched(sizes, node.inputs[1]):
            return None  # entries of different sizes: the loop over the batch runs them
        if not is_batched(y, node.inputs[0]):
            return [self(y, sizes)]
        return [_split_batch(self(_merge_batch(y), sizes), y)]

    def R_op(self, inputs, eval_points):
        ey, _ = eval_points
        return [None if ey is None else self(ey, inputs[1])]

    def connection_pattern(self, node):
        return [[True], [False]]


def _check_norm(norm):
    if norm not in (None, "ortho"):
        raise ValueError(f"norm must be None or 'ortho', got {norm!r}")


def _count(sizes, dtype):
    n = sizes[0]
    for s in sizes[1:]:
        n = n * s
    return cast(n, dtype)


def rfft(inp, norm=None):
    """The real FFT of each entry of the batch ``inp`` over all its other axes.

    Parameters
    ----------
    inp : tensor of shape (batch, n1, ..., nk), real
    norm : None or 'ortho'
        None: unscaled; 'ortho': divided by √(n1·…·nk).

    Returns
    -------
    tensor of shape (batch, n1, ..., nk//2 + 1, 2): real and imaginary parts.

    Examples
    --------
    >>> import numpy as np, nbgrad, nbgrad.tensor as T
    >>> from nbgrad.tensor import fft
    >>> x = T.dmatrix("x")
    >>> f = nbgrad.function([x], fft.rfft(x))
    >>> f(np.array([[1.0, 0.0, 0.0, 0.0]]))[0, :, 0]
    array([1., 1., 1.])
    """
    _check_norm(norm)
    inp = _float(inp, "rfft")
    out = RFFT()(inp)
    if norm == "ortho":
        out = out / sqrt(_count([shape_i(inp, i) for i in range(1, inp.ndim)], inp.dtype))
    return out


def irfft(inp, norm=None, is_odd=False):
    """The inverse of ``rfft``: real signals from half spectra stored as (..., bins, 2).

    Parameters
    ----------
    inp : tensor of shape (batch, n1, ..., m, 2)
    norm : None or 'ortho'
        None: divided by N = n1·…·nk (so that ``irfft(rfft(x)) == x``); 'ortho': by √N.
    is_odd : bool
        Whether the last signal size was odd: nk = 2(m − 1) + 1, else 2(m − 1).

    Returns
    -------
    tensor of shape (batch, n1, ..., nk), real.
    """
    _check_norm(norm)
    inp = _float(inp, "irfft")
    sizes = [shape_i(inp, i) for i in range(1, inp.ndim - 1)]
    sizes[-1] = (sizes[-1] - 1) * 2 + 1 if is_odd else (sizes[-1] - 1) * 2
    out = IRFFT()(inp, make_vector(*sizes))
    scale = _count(sizes, inp.dtype)
    return out / (scale if norm is None else sqrt(scale))
