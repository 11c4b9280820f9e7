"""PyTorch's signatures over the engine's functions.

The functions generated from ``nbgrad.tensor`` keep NumPy's conventions
(``axis=``, ``keepdims=``, ``transpose(axes)``); code written for PyTorch
expects ``dim=`` and ``keepdim=``, ``max(x, dim)`` returning values *and*
indices, ``transpose(x, d0, d1)`` swapping two dimensions and an unbiased
``var``. These functions give PyTorch's meaning (NumPy's ``axis=`` and
``keepdims=`` are accepted as aliases, as PyTorch accepts them) and are what
``nbgrad.eager`` exports under those names; ``FUNCTIONS`` keeps the engine's
own signatures. Tensor methods call them too.
"""

import builtins
import functools
import math
import sys
import types
import warnings
from collections import namedtuple

import numpy as np

from nbgrad.backends import available_backends
import nbgrad.tensor as T
from nbgrad.eager import functions as _functions
from nbgrad.eager import tape as _tape
from nbgrad.eager.dtypes import get_default_dtype, resolve_dtype
from nbgrad.eager.functions import FUNCTIONS as _F, eager_function
from nbgrad.eager.tensor import Tensor, as_tensor

__all__ = [
    "sum", "mean", "prod", "max", "min", "argmax", "argmin", "std", "var", "norm", "logsumexp",
    "all", "any", "sort", "argsort", "topk", "kthvalue", "transpose", "swapaxes", "permute", "t", "flatten", "squeeze", "unsqueeze",
    "softmax", "log_softmax", "cat", "concat", "concatenate", "stack", "mm", "mv", "bmm", "clamp",
    "clip", "allclose", "linspace", "normal", "empty", "randint", "from_numpy", "inference_mode",
    "device", "cuda", "return_types", "Size",
]

return_types = types.SimpleNamespace(
    max=namedtuple("max", ["values", "indices"]),
    min=namedtuple("min", ["values", "indices"]),
    sort=namedtuple("sort", ["values", "indices"]),
    topk=namedtuple("topk", ["values", "indices"]),
    kthvalue=namedtuple("kthvalue", ["values", "indices"]),
)
for _result in vars(return_types).values():
    _result.__module__ = __name__


class Size(tuple):
    """The shape of a tensor (a tuple), with ``numel()`` as in PyTorch."""

    __slots__ = ()

    def numel(self):
        """The number of elements of a tensor of this shape."""
        return math.prod(self)

    def __repr__(self):
        return f"Size({list(self)})"


# ------------------------------------------------------------------ dimensions
def _dim(d, ndim):
    """``d`` as a dimension index in ``range(ndim)`` (negative counts from the end)."""
    n = builtins.max(ndim, 1)
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
        raise TypeError(f"a dimension must be an int, got {type(d).__name__} {d!r}")
    if not -n <= d < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})")
    return int(d) % n


def _dims(d, ndim):
    """``d`` (None, an int or a sequence of ints) as an axis argument of the engine."""
    if d is None:
        return None
    if isinstance(d, (list, tuple)):
        out = tuple(_dim(k, ndim) for k in d)
        if len(set(out)) != len(out):
            raise RuntimeError(f"dim {tuple(d)} names a dimension twice")
        return out
    return _dim(d, ndim)


def _alias(dim, axis, keepdim, keepdims):
    """PyTorch's ``dim``/``keepdim`` or NumPy's ``axis``/``keepdims`` (either, not both)."""
    if axis is not None:
        if dim is not None:
            raise TypeError("pass dim= or axis=, not both")
        dim = axis
    return dim, bool(keepdim or keepdims)


def _t(x):
    return x if isinstance(x, Tensor) else as_tensor(x)


def _reduce(name, x, dim, keepdim):
    x = _t(x)
    if dim is None and not keepdim:
        return _F[name](x)
    return _F[name](x, axis=_dims(dim, x.ndim), keepdims=keepdim)


def _cast_for(x, dtype):
    return x if dtype is None else x.to(dtype)


# ------------------------------------------------------------------ reductions
def sum(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=False):
    """Sum over ``dim`` (all elements when None), as ``torch.sum``.

    >>> import nbgrad.eager as ne
    >>> ne.sum(ne.ones(2, 3), dim=0, keepdim=True).shape
    (1, 3)
    """
    dim, keepdim = _alias(dim, axis, keepdim, keepdims)
    return _reduce("sum", _cast_for(_t(input), dtype), dim, keepdim)


def mean(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=False):
    """Mean over ``dim``, as ``torch.mean``: only for floating (or complex) tensors."""
    dim, keepdim = _alias(dim, axis, keepdim, keepdims)
    x = _cast_for(_t(input), dtype)
    if x.dtype.kind not in "fc":
        raise RuntimeError(
            f"mean(): could not infer output dtype. Input dtype must be either a floating point or "
            f"complex dtype. Got: {x.dtype}; convert first (x.float().mean()) or pass dtype="
        )
    return _reduce("mean", x, dim, keepdim)


def prod(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=False):
    """Product over ``dim``, as ``torch.prod``."""
    dim, keepdim = _alias(dim, axis, keepdim, keepdims)
    return _reduce("prod", _cast_for(_t(input), dtype), dim, keepdim)


def _values_indices(x, dim, keepdim, which):
    reduce = T.max if which == "max" else T.min
    arg = T.argmax if which == "max" else T.argmin
    return reduce(x, axis=dim, keepdims=keepdim), arg(x, axis=dim, keepdims=keepdim)


_max_dim = eager_function(lambda x, dim, keepdim: _values_indices(x, dim, keepdim, "max"), "max")
_min_dim = eager_function(lambda x, dim, keepdim: _values_indices(x, dim, keepdim, "min"), "min")


def _extreme(which, input, dim, keepdim, axis, keepdims):
    if isinstance(dim, (Tensor, np.ndarray)):
        return _F["maximum" if which == "max" else "minimum"](input, dim)
    dim, keepdim = _alias(dim, axis, keepdim, keepdims)
    x = _t(input)
    if dim is None:
        if keepdim:
            raise TypeError(f"{which}(): keepdim=True needs a dim")
        return _F[which](x)
    d = _dim(dim, x.ndim)
    if x.ndim == 0:
        return getattr(return_types, which)(x, _functions.zeros_like(x, dtype="int64"))
    values, indices = (_max_dim if which == "max" else _min_dim)(x, d, keepdim)
    return getattr(return_types, which)(values, indices)


def max(input, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """The largest element, as ``torch.max``.

    ``max(x)`` is a 0-d tensor; ``max(x, dim)`` is the named tuple
    ``(values, indices)`` over ``dim``; ``max(x, other)`` with a tensor
    ``other`` is the elementwise maximum.

    >>> import nbgrad.eager as ne
    >>> x = ne.tensor([[1.0, 5.0], [4.0, 2.0]])
    >>> values, indices = ne.max(x, 1)
    >>> values.tolist(), indices.tolist()
    ([5.0, 4.0], [1, 0])
    """
    return _extreme("max", input, dim, keepdim, axis, keepdims)


def min(input, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """The smallest element, as ``torch.min`` (see ``max``)."""
    return _extreme("min", input, dim, keepdim, axis, keepdims)


def _arg(name, input, dim, keepdim, axis, keepdims):
    dim, keepdim = _alias(dim, axis, keepdim, keepdims)
    x = _t(input)
    if dim is None:
        flat = _F[name](x)
        return flat.reshape((1,) * x.ndim) if keepdim else flat
    if x.ndim == 0:
        _dim(dim, 0)
        return _functions.zeros_like(x, dtype="int64")
    return _F[name](x, axis=_dim(dim, x.ndim), keepdims=keepdim)


def argmax(input, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """Index of the largest element (into the flattened tensor when ``dim`` is None)."""
    return _arg("argmax", input, dim, keepdim, axis, keepdims)


def argmin(input, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """Index of the smallest element (into the flattened tensor when ``dim`` is None)."""
    return _arg("argmin", input, dim, keepdim, axis, keepdims)


def _spread(name, input, dim, unbiased, keepdim, correction, axis, keepdims, ddof):
    if isinstance(dim, bool):  # the overload var(x, unbiased)
        dim, unbiased = None, dim
    dim, keepdim = _alias(dim, axis, keepdim, keepdims)
    if correction is None:
        correction = ddof if ddof is not None else int(bool(unbiased))
    x = _t(input)
    return _F[name](x, axis=_dims(dim, x.ndim), ddof=correction, keepdims=keepdim)


def var(input, dim=None, unbiased=True, keepdim=False, *, correction=None, axis=None,
        keepdims=False, ddof=None):
    """Variance over ``dim``, unbiased by default (divides by n - 1), as ``torch.var``.

    ``unbiased=False`` or ``correction=0`` divide by n (NumPy's default);
    ``ddof`` is accepted as NumPy's name for ``correction``.

    >>> import nbgrad.eager as ne
    >>> ne.tensor([1.0, 2.0, 3.0, 4.0]).var().item()
    1.6666666...
    """
    return _spread("var", input, dim, unbiased, keepdim, correction, axis, keepdims, ddof)


def std(input, dim=None, unbiased=True, keepdim=False, *, correction=None, axis=None,
        keepdims=False, ddof=None):
    """Standard deviation over ``dim``, unbiased by default, as ``torch.std`` (see ``var``)."""
    return _spread("std", input, dim, unbiased, keepdim, correction, axis, keepdims, ddof)


def _norm_graph(x, p, dim, keepdim):
    a = T.abs(x)
    if p in ("fro", 2):
        return T.sqrt(T.sum(T.sqr(x), axis=dim, keepdims=keepdim))
    if p == 1:
        return T.sum(a, axis=dim, keepdims=keepdim)
    if p == np.inf:
        return T.max(a, axis=dim, keepdims=keepdim)
    if p == -np.inf:
        return T.min(a, axis=dim, keepdims=keepdim)
    if p == 0:
        return T.sum(T.cast(T.neq(x, 0), x.dtype), axis=dim, keepdims=keepdim)
    return T.sum(a ** p, axis=dim, keepdims=keepdim) ** (1.0 / p)


_norm = eager_function(_norm_graph, "norm")


def norm(input, p="fro", dim=None, keepdim=False, dtype=None, *, axis=None, keepdims=False):
    """The ``p``-norm of the elements (over ``dim``), as ``torch.norm``.

    ``p`` is ``'fro'`` (the 2-norm), a number, ``inf`` or ``-inf``; a vector
    norm is taken over the elements of ``dim`` (all when None).

    >>> import nbgrad.eager as ne
    >>> ne.norm(ne.tensor([[3.0, 4.0], [0.0, 1.0]]), dim=1).tolist()
    [5.0, 1.0]
    """
    dim, keepdim = _alias(dim, axis, keepdim, keepdims)
    if isinstance(p, str) and p != "fro":
        raise ValueError(f"norm(): p={p!r} is not supported; use 'fro' or a number")
    x = _cast_for(_t(input), dtype)
    if isinstance(p, (int, np.integer)) and not isinstance(p, bool):
        p = int(p)
    elif not isinstance(p, str):
        p = float(p)
        p = int(p) if p.is_integer() else p
    return _norm(x, p, _dims(dim, x.ndim), keepdim)


def logsumexp(input, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """``log(sum(exp(x)))`` over ``dim``, computed stably, as ``torch.logsumexp``."""
    dim, keepdim = _alias(dim, axis, keepdim, keepdims)
    return _reduce("logsumexp", input, dim, keepdim)


def all(input, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """True where all elements (over ``dim``) are nonzero."""
    dim, keepdim = _alias(dim, axis, keepdim, keepdims)
    return _reduce("all", input, dim, keepdim)


def any(input, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """True where some element (over ``dim``) is nonzero."""
    dim, keepdim = _alias(dim, axis, keepdim, keepdims)
    return _reduce("any", input, dim, keepdim)


# ------------------------------------------------------------------ sorting
def _sorted_graph(x, dim, descending):
    return T.sort(x, dim, descending=descending), T.argsort(x, dim, descending=descending)


def _topk_graph(x, k, dim, largest):
    cut = [slice(None)] * x.ndim
    cut[dim] = slice(0, k)
    indices = T.argsort(x, dim, descending=largest)[tuple(cut)]
    return T.take_along_axis(x, indices, dim), indices


def _kthvalue_graph(x, k, dim, keepdim):
    cut = [slice(None)] * x.ndim
    cut[dim] = slice(k - 1, k)
    indices = T.argsort(x, dim)[tuple(cut)]
    values = T.take_along_axis(x, indices, dim)
    if keepdim:
        return values, indices
    cut[dim] = 0
    return values[tuple(cut)], indices[tuple(cut)]


_sort_dim = eager_function(_sorted_graph, "sort")
_topk_dim = eager_function(_topk_graph, "topk")
_kthvalue_dim = eager_function(_kthvalue_graph, "kthvalue")


def _scalar_pair(which, x):
    """What PyTorch gives for a 0-d tensor: a copy of it and the index 0."""
    return getattr(return_types, which)(x.clone(), _functions.zeros_like(x, dtype="int64"))


def sort(input, dim=-1, descending=False, *, stable=False):
    """The named tuple ``(values, indices)`` of ``input`` sorted along ``dim``, as ``torch.sort``.

    The sort is always stable (equal elements keep their order, in a descending sort too),
    which is what ``stable=True`` asks for and a valid result without it; NaN sorts as the
    largest value. Gradients flow to ``input`` through ``values``; ``indices`` are int64.

    >>> import nbgrad.eager as ne
    >>> values, indices = ne.sort(ne.tensor([3.0, 1.0, 2.0]), descending=True)
    >>> values.tolist(), indices.tolist()
    ([3.0, 2.0, 1.0], [0, 2, 1])
    """
    x = _t(input)
    d = _dim(dim, x.ndim)
    if x.ndim == 0:
        return _scalar_pair("sort", x)
    return return_types.sort(*_sort_dim(x, d, bool(descending)))


def argsort(input, dim=-1, descending=False, *, stable=False):
    """The int64 indices that sort ``input`` along ``dim``, as ``torch.argsort`` (stable; see ``sort``).

    >>> import nbgrad.eager as ne
    >>> ne.argsort(ne.tensor([[2, 1, 2]]), dim=1).tolist()
    [[1, 0, 2]]
    """
    x = _t(input)
    d = _dim(dim, x.ndim)
    if x.ndim == 0:
        return _functions.zeros_like(x, dtype="int64")
    return _F["argsort"](x, d, descending=bool(descending))


def _k_in_range(name, k, size, lowest):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"{name}(): k must be an int, got {type(k).__name__} {k!r}")
    if not lowest <= k <= size:
        raise RuntimeError(f"{name}(): selected index k={k} is out of range for a dimension of size "
                           f"{size} (expected {lowest} <= k <= {size})")
    return int(k)


def topk(input, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest elements along ``dim`` (smallest with ``largest=False``) and their
    indices, as the named tuple ``(values, indices)`` of ``torch.topk``.

    The values come in sorted order whatever ``sorted`` (unsorted order is unspecified in
    PyTorch); equal values keep their order. Gradients flow back to the selected elements.

    >>> import nbgrad.eager as ne
    >>> values, indices = ne.topk(ne.tensor([1.0, 4.0, 2.0, 3.0]), 2)
    >>> values.tolist(), indices.tolist()
    ([4.0, 3.0], [1, 3])
    """
    x = _t(input)
    d = _dim(dim, x.ndim)
    if x.ndim == 0:  # PyTorch gives the value itself for k = 0 too
        _k_in_range("topk", k, 1, 0)
        return _scalar_pair("topk", x)
    k = _k_in_range("topk", k, x.shape[d], 0)
    return return_types.topk(*_topk_dim(x, k, d, bool(largest)))


def kthvalue(input, k, dim=-1, keepdim=False):
    """The ``k``-th smallest element along ``dim`` (``k`` counts from 1) and its index, as the
    named tuple ``(values, indices)`` of ``torch.kthvalue``.

    >>> import nbgrad.eager as ne
    >>> ne.kthvalue(ne.tensor([3.0, 1.0, 2.0]), 2).values.item()
    2.0
    """
    x = _t(input)
    d = _dim(dim, x.ndim)
    if x.ndim == 0:
        _k_in_range("kthvalue", k, 1, 1)
        return _scalar_pair("kthvalue", x)
    k = _k_in_range("kthvalue", k, x.shape[d], 1)
    return return_types.kthvalue(*_kthvalue_dim(x, k, d, bool(keepdim)))


# ------------------------------------------------------------------ shapes
def transpose(input, dim0, dim1):
    """``input`` with dimensions ``dim0`` and ``dim1`` swapped, as ``torch.transpose``.

    (NumPy's ``transpose(axes)`` takes a whole permutation: that is ``permute``.)

    >>> import nbgrad.eager as ne
    >>> ne.transpose(ne.zeros(2, 3, 4), 0, -1).shape
    (4, 3, 2)
    """
    x = _t(input)
    d0, d1 = _dim(dim0, x.ndim), _dim(dim1, x.ndim)
    if d0 == d1 or x.ndim < 2:
        return x
    order = list(range(x.ndim))
    order[d0], order[d1] = order[d1], order[d0]
    return _F["transpose"](x, tuple(order))


swapaxes = transpose


def permute(input, dims):
    """``input`` with its dimensions reordered: dimension ``k`` of the result is ``dims[k]``."""
    x = _t(input)
    order = tuple(_dim(d, x.ndim) for d in dims)
    if sorted(order) != list(range(x.ndim)):
        raise RuntimeError(
            f"permute(): dims {tuple(dims)} must name each of the {x.ndim} dimensions once")
    return _F["transpose"](x, order) if order != tuple(range(x.ndim)) else x


def t(input):
    """The transpose of a matrix (vectors and scalars are returned as they are)."""
    x = _t(input)
    if x.ndim > 2:
        raise RuntimeError(
            f"t() expects a tensor with <= 2 dimensions, but self is {x.ndim}D; use "
            "transpose(dim0, dim1) or permute(...)")
    return transpose(x, 0, 1) if x.ndim == 2 else x


def flatten(input, start_dim=0, end_dim=-1):
    """``input`` with dimensions ``start_dim`` to ``end_dim`` merged into one, as ``torch.flatten``.

    >>> import nbgrad.eager as ne
    >>> ne.flatten(ne.zeros(2, 3, 4), 1).shape
    (2, 12)
    """
    x = _t(input)
    if x.ndim == 0:
        return x.reshape(1)
    s, e = _dim(start_dim, x.ndim), _dim(end_dim, x.ndim)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return x
    if e == x.ndim - 1:
        return _F["flatten"](x, s + 1)
    return x.reshape(x.shape[:s] + (-1,) + x.shape[e + 1:])


def squeeze(input, dim=None):
    """``input`` without its dimensions of size 1 (only ``dim``, when given and of size 1)."""
    x = _t(input)
    if dim is None:
        return _F["squeeze"](x) if 1 in x.shape else x
    dims = tuple(d for d in np.atleast_1d(_dims(dim, x.ndim)) if x.ndim and x.shape[d] == 1)
    return _F["squeeze"](x, dims) if dims else x


def unsqueeze(input, dim):
    """``input`` with a new dimension of size 1 at ``dim`` (negative: from the end)."""
    x = _t(input)
    return _F["expand_dims"](x, _dim(dim, x.ndim + 1))


def _softmax_dim(x, dim, name):
    if dim is None:
        dim = 0 if x.ndim in (0, 1, 3) else 1
        warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                      "to include dim=X as an argument.", UserWarning, stacklevel=3)
    return _dim(dim, x.ndim)


def softmax(input, dim=None, dtype=None):
    """``exp(x) / sum(exp(x))`` along ``dim``, as ``torch.softmax``."""
    x = _cast_for(_t(input), dtype)
    return _F["softmax"](x, _softmax_dim(x, dim, "softmax"))


def log_softmax(input, dim=None, dtype=None):
    """``log(softmax(x, dim))``, computed stably, as ``torch.log_softmax``."""
    x = _cast_for(_t(input), dtype)
    return _F["log_softmax"](x, _softmax_dim(x, dim, "log_softmax"))


def cat(tensors, dim=0, *, axis=None):
    """The tensors joined along the existing dimension ``dim``."""
    dim = dim if axis is None else axis
    tensors = [_t(x) for x in tensors]
    if not tensors:
        raise ValueError("cat() needs a non-empty sequence of tensors")
    return _F["concatenate"](tensors, axis=_dim(dim, tensors[0].ndim))


concat = concatenate = cat


def stack(tensors, dim=0, *, axis=None):
    """The tensors joined along a new dimension ``dim``."""
    dim = dim if axis is None else axis
    tensors = [_t(x) for x in tensors]
    if not tensors:
        raise ValueError("stack() needs a non-empty sequence of tensors")
    return _F["stack"](tensors, axis=_dim(dim, tensors[0].ndim + 1))


# ------------------------------------------------------------------ products and values
def _check_ndim(name, x, ndim, what):
    if x.ndim != ndim:
        raise RuntimeError(f"{name}(): {what} must be a {ndim}-D tensor, got shape {tuple(x.shape)}")


def mm(input, mat2):
    """The matrix product of two matrices (2-D tensors only)."""
    a, b = _t(input), _t(mat2)
    _check_ndim("mm", a, 2, "input")
    _check_ndim("mm", b, 2, "mat2")
    return _F["dot"](a, b)


def mv(input, vec):
    """The product of a matrix and a vector."""
    a, v = _t(input), _t(vec)
    _check_ndim("mv", a, 2, "input")
    _check_ndim("mv", v, 1, "vec")
    return _F["dot"](a, v)


def bmm(input, mat2):
    """Batched matrix products of two 3-D tensors (batch first)."""
    a, b = _t(input), _t(mat2)
    _check_ndim("bmm", a, 3, "input")
    _check_ndim("bmm", b, 3, "mat2")
    return _F["matmul"](a, b)


def clamp(input, min=None, max=None):
    """``input`` limited to [``min``, ``max``] (either may be None)."""
    if min is None and max is None:
        raise RuntimeError("clamp(): at least one of min and max must be given")
    out = _t(input)
    if min is not None:
        out = _F["maximum"](out, min)
    if max is not None:
        out = _F["minimum"](out, max)
    return out


clip = clamp


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True when ``|input - other| <= atol + rtol * |other|`` everywhere (a Python bool)."""
    a, b = _t(input), _t(other)
    close = _F["le"](_F["abs"](a - b), atol + rtol * _F["abs"](b))
    if equal_nan:
        close = close | (_F["isnan"](a) & _F["isnan"](b))
    return bool(_F["all"](close))


# ------------------------------------------------------------------ constructors
def linspace(start, end, steps, *, dtype=None, requires_grad=False, device=None):
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    dt = resolve_dtype(dtype) if dtype is not None else get_default_dtype()
    return _functions._leaf(np.linspace(start, end, int(steps)).astype(dt), requires_grad, device)


def empty(*size, dtype=None, requires_grad=False, device=None):
    """A tensor of the given shape (filled with zeros here; PyTorch leaves it uninitialized)."""
    return _functions.zeros(*size, dtype=dtype, requires_grad=requires_grad, device=device)


def normal(mean=0.0, std=1.0, size=None, *, dtype=None, requires_grad=False, device=None):
    """Normal samples with ``mean`` and ``std`` (numbers with ``size``, or tensors broadcast)."""
    with _tape.no_grad():
        if isinstance(mean, Tensor) or isinstance(std, Tensor):
            m, s = _t(mean), _t(std)
            size = np.broadcast_shapes(m.shape, s.shape)
            dtype = dtype or np.result_type(m.dtype, s.dtype)
        elif size is None:
            raise TypeError("normal(mean, std) with numbers needs size=")
        out = _functions.randn(size=size, dtype=dtype, device=device) * std + mean
    return out.requires_grad_(requires_grad) if requires_grad else out


def randint(*args, size=None, dtype=None, requires_grad=False, device=None):
    """Random integers in [low, high): ``randint(high, size)`` or ``randint(low, high, size)``."""
    if size is None and args and isinstance(args[-1], (tuple, list)):
        args, size = args[:-1], args[-1]
    if len(args) == 1:
        low, high = 0, args[0]
    elif len(args) == 2:
        low, high = args
    else:
        raise TypeError("randint(high, size) or randint(low, high, size)")
    if size is None:
        raise TypeError("randint() needs size=, a tuple of ints")
    dt = resolve_dtype(dtype) if dtype is not None else np.dtype("int64")
    arr = _functions._rng[0].integers(int(low), int(high), size=tuple(size)).astype(dt)
    return _functions._leaf(arr, requires_grad, device)


def from_numpy(ndarray):
    """A tensor sharing memory with the NumPy array ``ndarray`` (and keeping its dtype)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy() expects a NumPy array, got {type(ndarray).__name__}")
    return Tensor._make(ndarray, False, None, 0)


class inference_mode(_tape.no_grad):
    """Context manager (or decorator) that records nothing, as ``torch.inference_mode``."""

    def __init__(self, mode=True):
        self.mode = mode

    def __enter__(self):
        self.prev = _tape._GradMode.enabled
        if self.mode:
            _tape._GradMode.enabled = False
        return self

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(self.mode):
                return fn(*args, **kwargs)

        return wrapper


# ------------------------------------------------------------------ devices
class device(str):
    """A device, as ``torch.device``: ``device('cpu')``, ``device('cuda')``, ``device('cuda', 0)``.

    It is the string of nbgrad's name for it (``'cpu'`` or ``'gpu'``), so it
    compares equal to ``x.device`` and is accepted wherever a device name is.
    ``type`` is PyTorch's name (``'cpu'`` or ``'cuda'``).

    >>> import nbgrad.eager as ne
    >>> ne.device("cpu").type, ne.tensor([1.0]).device == ne.device("cpu")
    ('cpu', True)
    """

    def __new__(cls, type, index=None):
        if isinstance(type, device):
            return type
        name, _, idx = str(type).partition(":")
        if idx:
            index = int(idx)
        ours = {"cpu": "cpu", "cuda": "gpu", "gpu": "gpu"}.get(name)
        if ours is None:
            raise RuntimeError(f"Expected one of cpu, cuda device type at start of device string: {type}")
        self = super().__new__(cls, ours)
        self.type = "cuda" if ours == "gpu" else "cpu"
        self.index = index
        return self

    def __repr__(self):
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"

    __hash__ = str.__hash__


def _cuda_available():
    """True when the GPU backend (CuPy and a CUDA device) can run here."""
    return "gpu" in available_backends()


cuda = types.SimpleNamespace(is_available=_cuda_available)


# (``nbgrad.eager.tensor`` is also the name of the constructor, hence sys.modules.)
sys.modules["nbgrad.eager.tensor"]._TL = sys.modules[__name__]
