"""Dtypes of eager tensors: the default floating dtype and PyTorch's promotion rules.

Eager tensors follow PyTorch, not NumPy, where the two differ:

* Python floats, float lists and the float constructors (``randn``,
  ``zeros``, ``arange(0., 1.)``) give the *default dtype*, float32 unless
  changed with ``set_default_dtype``; Python integers give int64.
* In an elementwise operation the result takes the highest *category* among
  the operands (bool < integer < floating < complex). Within that category
  tensors with dimensions decide over 0-d tensors, and both over Python
  numbers: ``float32 tensor * 2.5`` is float32, ``int64 tensor * 2.5`` is the
  default dtype, ``int64 tensor + float32 tensor`` is float32 (NumPy would
  give float64).
* An integer operation whose result is a float (``/``, ``exp``, ``sqrt``)
  computes in the default dtype.

The dtype names ``float32``, ``float``, ``double``, ``long``, ... are NumPy
dtypes, so ``x.dtype == ne.float32`` compares as expected.
"""

import numpy as np

__all__ = ["get_default_dtype", "set_default_dtype", "category", "promote_types", "number_dtype",
           "DTYPE_NAMES", "resolve_dtype"]

_DEFAULT = [np.dtype("float32")]
# Caches keyed by dtypes that depend on the default dtype (cleared when it changes).
_DEPENDENT_CACHES = []

DTYPE_NAMES = {
    "float16": np.dtype("float16"), "half": np.dtype("float16"),
    "float32": np.dtype("float32"), "float": np.dtype("float32"),
    "float64": np.dtype("float64"), "double": np.dtype("float64"),
    "complex64": np.dtype("complex64"), "cfloat": np.dtype("complex64"),
    "complex128": np.dtype("complex128"), "cdouble": np.dtype("complex128"),
    "uint8": np.dtype("uint8"), "int8": np.dtype("int8"),
    "int16": np.dtype("int16"), "short": np.dtype("int16"),
    "int32": np.dtype("int32"), "int": np.dtype("int32"),
    "int64": np.dtype("int64"), "long": np.dtype("int64"),
    "bool": np.dtype("bool"),
}


def get_default_dtype():
    """The dtype of tensors made from Python floats (float32 unless changed).

    >>> import nbgrad.eager as ne
    >>> ne.get_default_dtype()
    dtype('float32')
    """
    return _DEFAULT[0]


def set_default_dtype(dtype):
    """Make ``dtype`` (float32 or float64, or float16) the dtype of Python floats.

    Parameters
    ----------
    dtype : dtype or str
        A floating dtype: ``ne.float64``, ``'float64'``, ``np.float64``, ...

    Examples
    --------
    >>> import nbgrad.eager as ne
    >>> ne.set_default_dtype(ne.float64)
    >>> ne.tensor([1.0]).dtype
    dtype('float64')
    >>> ne.set_default_dtype(ne.float32)
    """
    dt = resolve_dtype(dtype)
    if dt.kind != "f":
        raise TypeError(
            f"set_default_dtype: only floating dtypes can be the default, got {dt}; pass "
            "ne.float32 or ne.float64"
        )
    if dt != _DEFAULT[0]:
        _DEFAULT[0] = dt
        for cache in _DEPENDENT_CACHES:
            cache.clear()


def resolve_dtype(dtype):
    """``dtype`` (a NumPy dtype, a type or a name such as ``'long'``) as a NumPy dtype."""
    if isinstance(dtype, str) and dtype in DTYPE_NAMES:
        return DTYPE_NAMES[dtype]
    if dtype is float:
        return _DEFAULT[0]
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"not a dtype: {dtype!r}; use ne.float32, ne.float64, ne.int64, ne.bool, ... or "
            "their names ('float32', 'long')"
        ) from None


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def category(dtype):
    """0 for bool, 1 for integers, 2 for floats, 3 for complex numbers."""
    return _CATEGORY[np.dtype(dtype).kind]


def promote_types(operands):
    """PyTorch's result dtype of an elementwise operation on ``operands``.

    ``operands`` have ``dtype`` and ``ndim`` (arrays or symbolic variables);
    those of the highest category decide, and among them those with
    dimensions decide over 0-d ones.
    """
    top = max(category(o.dtype) for o in operands)
    best = [o for o in operands if category(o.dtype) == top]
    dimensioned = [o.dtype for o in best if o.ndim > 0]
    return np.result_type(*(dimensioned or [o.dtype for o in best]))


def number_dtype(number, dtypes):
    """The dtype a Python number takes next to tensors of ``dtypes`` (PyTorch's rule).

    The number does not change the tensors' dtype unless it is of a higher
    category: then a float gives the default dtype, an int int64, a complex
    the complex dtype matching the default.
    """
    if isinstance(number, np.generic):
        kind = number.dtype.kind
    else:
        kind = "b" if isinstance(number, bool) else "i" if isinstance(number, int) else \
            "f" if isinstance(number, float) else "c"
    cat = _CATEGORY[kind]
    if dtypes:
        top = max(dtypes, key=category)
        top_cat = category(top)
        if cat <= top_cat:
            return np.result_type(*[d for d in dtypes if category(d) == top_cat])
    if cat == 0:
        return np.dtype(bool)
    if cat == 1:
        return np.dtype("int64")
    if cat == 2:
        return _DEFAULT[0]
    return np.dtype("complex64" if _DEFAULT[0] == np.float32 else "complex128")
