"""Constructors and conversion: symbolic inputs, constants, ``as_tensor_variable``."""

import numbers

import numpy as np

from nbgrad.config import config
from nbgrad.graph.basic import Variable
from nbgrad.tensor.type import TensorType
from nbgrad.tensor.variable import TensorConstant

# The typed constructors (scalar, dvector, fmatrices, ...) are generated at the end of
# this module and appended to __all__ there.
__all__ = ["as_tensor_variable", "as_tensor", "constant", "tensor", "TensorType"]


def constant(value, name=None, dtype=None, ndim=None):
    """A TensorConstant holding ``value`` (converted with NumPy; ints stay int64, floats float64)."""
    arr = np.asarray(value, dtype=dtype)
    if arr.dtype == object or arr.dtype.kind in "USV":
        raise TypeError(f"cannot make a numeric constant from {value!r}")
    if ndim is not None:
        if arr.ndim > ndim:
            raise ValueError(f"constant {value!r} has {arr.ndim} dimensions, expected {ndim}")
        arr = arr.reshape((1,) * (ndim - arr.ndim) + arr.shape)
    ttype = TensorType(arr.dtype, tuple(arr.shape))
    return TensorConstant(ttype, arr, name=name)


def as_tensor_variable(x, name=None, ndim=None, dtype=None):
    """Turn ``x`` (a variable, number, list or array) into a symbolic array.

    >>> as_tensor_variable([1.0, 2.0]).type
    TensorType(float64, shape=(2,))
    """
    if isinstance(x, Variable):
        if not isinstance(x.type, TensorType):
            raise TypeError(f"{x} of type {x.type} is not a tensor")
        if ndim is not None and x.ndim != ndim:
            raise ValueError(f"{x} has {x.ndim} dimensions, expected {ndim}")
        if dtype is not None and x.dtype != np.dtype(dtype).name:
            # lazy: circle inside tensor/: cast is an Elemwise, and elemwise.py builds on as_tensor_variable
            from nbgrad.tensor import cast

            return cast(x, dtype)
        return x
    if isinstance(x, (list, tuple)) and any(isinstance(e, Variable) for e in _flat(x)):
        # lazy: circle inside tensor/: stack is a Join (shape.py), which builds on as_tensor_variable
        from nbgrad.tensor import stack

        return stack([as_tensor_variable(e) for e in x])
    if hasattr(x, "__cuda_array_interface__"):
        x = x.get()
    if dtype is None and isinstance(x, float) and not isinstance(x, np.floating):
        dtype = config.floatX
    return constant(x, name=name, dtype=dtype, ndim=ndim)


as_tensor = as_tensor_variable


def _flat(seq):
    for e in seq:
        if isinstance(e, (list, tuple)):
            yield from _flat(e)
        else:
            yield e


def as_weak_operand(x, others):
    """Convert a Python number ``x`` to the dtype NumPy would give it beside ``others``.

    Python scalars are "weak" (NEP 50): ``float32_var * 2`` stays float32.
    """
    if isinstance(x, Variable):
        return x
    if isinstance(x, (bool, numbers.Number)) and not isinstance(x, np.generic):
        dtypes = [o.dtype for o in others if isinstance(o, Variable)]
        if dtypes:
            try:
                dt = np.result_type(*dtypes, x)
            except (OverflowError, TypeError):
                dt = None
            if dt is not None:
                try:
                    return constant(np.asarray(x, dtype=dt))
                except OverflowError:
                    raise OverflowError(
                        f"the Python number {x!r} does not fit in {dt}, the dtype of the other "
                        f"operand (Python numbers take the dtype of the array they meet, as in "
                        f"NumPy); cast the variable first, e.g. x.astype('int64')"
                    ) from None
    return as_tensor_variable(x)


# --- symbolic inputs ------------------------------------------------------------
def tensor(dtype=None, shape=None, name=None, broadcastable=None):
    """A symbolic input of the given dtype and static ``shape``.

    Parameters
    ----------
    dtype : str, optional
        A NumPy dtype name (default ``config.floatX``).
    shape : tuple of int or None, optional
        One entry per dimension: the size where it is known, else None.
        Theano's ``tensor(dtype, broadcastable)`` form (a tuple of bools) is
        also accepted. Default ``()`` (a scalar).
    name : str, optional

    Examples
    --------
    >>> import nbgrad.tensor as T
    >>> T.tensor("float32", (None, 3), name="X").type
    TensorType(float32, shape=(None, 3))
    >>> T.tensor("float64", (False, True)).type
    TensorType(float64, col)
    """
    if isinstance(shape, str) and name is None:
        shape, name = None, shape
    _check_name(name, "tensor")
    if isinstance(shape, (list, tuple)) and shape and all(isinstance(b, (bool, np.bool_)) for b in shape):
        broadcastable, shape = shape, None
    if shape is None and broadcastable is None:
        shape = ()
    return TensorType(dtype, shape=shape, broadcastable=broadcastable)(name)


def _check_name(name, kind):
    if name is not None and not isinstance(name, str):
        raise TypeError(
            f"T.{kind}(): the name must be a string, got {type(name).__name__} {name!r}; "
            f"the first argument is the name (T.{kind}('x')); give the dtype by keyword "
            f"(T.{kind}('x', dtype='float32')), and to make several use the plural form"
        )


def _maker(kind, shape):
    def make(name=None, dtype=None, shape_=None):
        _check_name(name, kind)
        return TensorType(dtype or config.floatX, shape if shape_ is None else shape_)(name)

    return make


def _names(names, plural):
    """Theano's plural rule: a count, one name per argument, or one string of names.

    A single string is split on commas and whitespace when it has any
    (``'x, y'``), else it names one variable per character (``'xyz'``).
    """
    if len(names) == 1 and isinstance(names[0], (int, np.integer)) and not isinstance(names[0], bool):
        return [None] * int(names[0])
    if len(names) == 1 and isinstance(names[0], str):
        text = names[0]
        if any(c == "," or c.isspace() for c in text):
            names = tuple(n for n in text.replace(",", " ").split())
        else:
            names = tuple(text)
    if not names:
        raise TypeError(
            f"T.{plural}() needs names or a count, e.g. T.{plural}('x', 'y'), "
            f"T.{plural}('xy') or T.{plural}(2)"
        )
    return list(names)


def _plural(single, kind, plural, typed):
    if typed:  # a TensorType: the dtype is part of it
        def many(*names):
            return [single(n) for n in _names(names, plural)]
    else:
        def many(*names, dtype=None):
            return [single(n, dtype=dtype) for n in _names(names, plural)]

    many.__name__ = plural
    many.__doc__ = (
        f"Several symbolic {kind} inputs: one per name, per character of a single "
        f"string without separators (``'xyz'``), or a count of unnamed ones."
    )
    return many


_KINDS = {
    "scalar": (),
    "vector": (None,),
    "matrix": (None, None),
    "row": (1, None),
    "col": (None, 1),
    "tensor3": (None,) * 3,
    "tensor4": (None,) * 4,
    "tensor5": (None,) * 5,
}
_PLURALS = {"scalar": "scalars", "vector": "vectors", "matrix": "matrices", "row": "rows",
            "col": "cols", "tensor3": "tensor3s", "tensor4": "tensor4s", "tensor5": "tensor5s"}
_PREFIXES = {
    "b": "int8", "w": "int16", "i": "int32", "l": "int64",
    "f": "float32", "d": "float64", "c": "complex64", "z": "complex128",
    "ub": "uint8", "uw": "uint16", "ui": "uint32", "ul": "uint64", "bool": "bool",
}


def _install_constructors(namespace):
    # As in Theano, a prefixed constructor (dvector, fmatrix, ...) *is* a TensorType:
    # T.dvector("x").type is T.dvector. The plain ones (vector, matrix, ...) stay
    # functions because their dtype is config.floatX at the time of the call.
    names = []
    for kind, shape in _KINDS.items():
        plural = _PLURALS[kind]
        namespace[kind] = _doc(_maker(kind, shape), kind)
        namespace[plural] = _plural(namespace[kind], kind, plural, typed=False)
        names += [kind, plural]
        for prefix, dtype in _PREFIXES.items():
            single = TensorType(dtype, shape)
            namespace[prefix + kind] = single
            namespace[prefix + plural] = _plural(single, kind, prefix + plural, typed=True)
            names += [prefix + kind, prefix + plural]
    return names


def _doc(fn, kind):
    fn.__name__ = kind
    fn.__doc__ = (
        f"A symbolic {kind} input of dtype config.floatX (or ``dtype``).\n\n"
        f"Parameters\n----------\nname : str, optional\ndtype : str, optional\n"
    )
    return fn


__all__ += _install_constructors(globals())
