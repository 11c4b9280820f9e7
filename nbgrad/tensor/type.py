"""TensorType: the dtype and static shape of a symbolic array."""

import numpy as np

from nbgrad.config import config
from nbgrad.graph.basic import Type
from nbgrad.tensor.variable import TensorVariable

__all__ = ["TensorType", "discrete_dtypes", "float_dtypes", "complex_dtypes"]

float_dtypes = ("float16", "float32", "float64")
complex_dtypes = ("complex64", "complex128")
int_dtypes = ("int8", "int16", "int32", "int64")
uint_dtypes = ("uint8", "uint16", "uint32", "uint64")
discrete_dtypes = ("bool",) + int_dtypes + uint_dtypes

_PATTERNS = {
    (): "scalar",
    (False,): "vector",
    (True,): "vector1",
    (False, False): "matrix",
    (True, False): "row",
    (False, True): "col",
    (False,) * 3: "tensor3",
    (False,) * 4: "tensor4",
    (False,) * 5: "tensor5",
}


class TensorType(Type):
    """The type of a symbolic array: a dtype and a static shape.

    ``shape`` is a tuple with one entry per dimension: an int where the size is
    known, else None. A dimension of static size 1 is *broadcastable*. Theano's
    form, a tuple of bools (the *broadcastable pattern*), is accepted in its
    place, positionally or as ``broadcastable=``: True stands for static size 1,
    False for an unknown size.

    A TensorType is called to make a variable of that type, as Theano's
    ``T.dvector`` is: ``TensorType("float64", (None,))("x")``.

    >>> TensorType("float64", (None, 1))
    TensorType(float64, col)
    >>> TensorType("float64", (False, True))
    TensorType(float64, col)
    >>> TensorType("int64", broadcastable=(True, False))("r").type.shape
    (1, None)
    """

    def __init__(self, dtype=None, shape=None, broadcastable=None):
        if dtype is None or dtype == "floatX":
            dtype = config.floatX
        try:
            self.numpy_dtype, self.dtype = _DTYPES[dtype]
        except (KeyError, TypeError):
            self.numpy_dtype, self.dtype = _numpy_dtype(dtype)
        if _is_pattern(shape):
            if broadcastable is not None and tuple(broadcastable) != tuple(shape):
                raise TypeError(
                    f"TensorType: got two broadcastable patterns, {tuple(shape)!r} and "
                    f"broadcastable={tuple(broadcastable)!r}; give one"
                )
            shape, broadcastable = None, shape
        if shape is None:
            if broadcastable is not None and not (_is_pattern(broadcastable) or isinstance(broadcastable, (tuple, list)) and not broadcastable):
                raise TypeError(
                    f"TensorType: broadcastable must be a tuple of bools (True where the size "
                    f"is 1), got {broadcastable!r}; e.g. broadcastable=(False, True)"
                )
            shape = tuple(1 if b else None for b in (broadcastable or ()))
        elif broadcastable is not None:
            if tuple(s == 1 for s in _check_shape(shape)) != tuple(bool(b) for b in broadcastable):
                raise TypeError(
                    f"TensorType: shape={tuple(shape)!r} and broadcastable={tuple(broadcastable)!r} "
                    "disagree; give only one of them"
                )
        self.shape = _check_shape(shape)
        self.ndim = len(self.shape)
        self.broadcastable = tuple(s == 1 for s in self.shape)

    # identity --------------------------------------------------------------
    def __eq__(self, other):
        return type(other) is type(self) and other.dtype == self.dtype and other.shape == self.shape

    def __hash__(self):
        return hash((TensorType, self.dtype, self.shape))

    def clone(self, dtype=None, shape=None):
        return TensorType(dtype or self.dtype, self.shape if shape is None else shape)

    def is_compatible(self, other):
        """Same dtype and ndim, and no static size that contradicts the other's."""
        return (
            isinstance(other, TensorType)
            and other.dtype == self.dtype
            and other.ndim == self.ndim
            and all(a is None or b is None or a == b for a, b in zip(self.shape, other.shape))
        )

    def is_super(self, other):
        return self.is_compatible(other) and all(
            a is None or a == b for a, b in zip(self.shape, other.shape)
        )

    def convert_variable(self, var):
        if self.is_compatible(var.type):
            return var
        return None

    def __str__(self):
        name = _PATTERNS.get(self.broadcastable)
        if name is not None and all(s in (None, 1) for s in self.shape):
            return f"TensorType({self.dtype}, {name})"
        return f"TensorType({self.dtype}, shape={self.shape})"

    __repr__ = __str__

    @property
    def dtype_specs(self):
        return self.numpy_dtype

    def make_variable(self, name=None):
        return TensorVariable(self, name=name)

    def __call__(self, name=None):
        """A new symbolic variable of this type, named ``name``."""
        if name is not None and not isinstance(name, str):
            raise TypeError(
                f"{self}(name): the name must be a string, got {type(name).__name__} {name!r}; "
                "to make several variables use the plural constructor (e.g. T.dvectors(3))"
            )
        return self.make_variable(name)

    # values ----------------------------------------------------------------
    def filter(self, value, strict=False, allow_downcast=None, what="value"):
        """Return ``value`` as an array of this type, or raise a clear error.

        Arrays of the right dtype pass through uncopied. Python numbers and
        lists are converted when the conversion is exact; arrays of another
        dtype are cast only when NumPy deems the cast safe (or when
        ``allow_downcast`` is true).
        """
        if type(value) is np.ndarray and value.dtype == self.numpy_dtype:
            arr = value
        elif strict:
            raise TypeError(
                f"{what}: expected an ndarray of dtype {self.dtype} (strict input), "
                f"got {_describe(value)}"
            )
        else:
            arr = self._convert(value, allow_downcast, what)
        if arr.ndim != self.ndim:
            raise TypeError(
                f"{what}: expected {self.ndim} dimension(s) ({self}), got "
                f"{arr.ndim} dimension(s) with shape {arr.shape}"
            )
        for i, (s, n) in enumerate(zip(self.shape, arr.shape)):
            if s is not None and s != n:
                raise ValueError(
                    f"{what}: expected shape {_shape_str(self.shape)}, got {arr.shape} "
                    f"(size {n} on axis {i}, expected {s})"
                )
        return arr

    def _convert(self, value, allow_downcast, what):
        if isinstance(value, np.ndarray) or np.isscalar(value) and hasattr(value, "dtype"):
            arr = np.asarray(value)
            if arr.dtype == self.numpy_dtype:
                return arr
            if allow_downcast or np.can_cast(arr.dtype, self.numpy_dtype, "safe"):
                return arr.astype(self.numpy_dtype)
            raise TypeError(
                f"{what}: cannot convert an array of dtype {arr.dtype} to {self.dtype} without "
                f"loss of precision; cast it first (e.g. value.astype('{self.dtype}')) or pass "
                "allow_input_downcast=True to function()"
            )
        if hasattr(value, "__cuda_array_interface__"):
            raise TypeError(
                f"{what}: got a GPU array for a CPU function; call .get() on it or compile "
                "the function with backend='gpu'"
            )
        try:
            raw = np.asarray(value)
        except Exception as exc:  # noqa: BLE001 - re-raised with context
            raise TypeError(f"{what}: cannot convert {_describe(value)} to an array: {exc}") from exc
        if raw.dtype == object or raw.dtype.kind in "USV":
            raise TypeError(
                f"{what}: cannot interpret {_describe(value)} as a {self.dtype} array "
                f"(expected numbers of shape {_shape_str(self.shape)})"
            )
        if raw.dtype == self.numpy_dtype:
            return raw
        with np.errstate(all="ignore"):
            arr = raw.astype(self.numpy_dtype)
        if allow_downcast or np.can_cast(raw.dtype, self.numpy_dtype, "safe"):
            return arr
        if allow_downcast is None and raw.dtype.kind in "biuf" and self.numpy_dtype.kind in "fc":
            return arr  # Python numbers into a float input, as Theano allowed for floatX
        exact = arr.shape == raw.shape and bool(np.all((arr == raw) | (np.isnan(arr) & np.isnan(raw))))
        if exact and (allow_downcast is None or raw.dtype.kind == self.numpy_dtype.kind):
            return arr
        raise TypeError(
            f"{what}: {_describe(value)} cannot be converted to {self.dtype} exactly; "
            f"pass a value of dtype {self.dtype} or use allow_input_downcast=True"
        )

    def value_zeros(self, shape):
        return np.zeros(shape, dtype=self.dtype)


#: dtype as given (a name, a NumPy dtype or scalar type) -> (its NumPy dtype, its name);
#: types are made for every node of every graph, and ``np.dtype(d).name`` costs microseconds
_DTYPES = {}


def _numpy_dtype(dtype):
    try:
        name = np.dtype(dtype).name
    except TypeError:
        raise TypeError(f"unknown dtype {dtype!r}; expected a NumPy dtype name such as 'float64'") from None
    found = (np.dtype(name), name)  # the native-order dtype the name stands for
    try:
        _DTYPES[dtype] = found
    except TypeError:
        pass
    return found


def _is_pattern(seq):
    """True for a non-empty tuple/list of bools: Theano's broadcastable pattern."""
    return (isinstance(seq, (tuple, list)) and len(seq) > 0
            and all(isinstance(b, (bool, np.bool_)) for b in seq))


def _check_shape(shape):
    if isinstance(shape, (int, np.integer)) or shape is None or isinstance(shape, str):
        raise TypeError(
            f"TensorType: shape must be a tuple with one entry per dimension (an int, or None "
            f"where the size is unknown), got {shape!r}; e.g. shape=(None, 3)"
        )
    out = []
    for s in shape:
        if s is None:
            out.append(None)
        elif isinstance(s, (int, np.integer)) and not isinstance(s, (bool, np.bool_)) and s >= 0:
            out.append(int(s))
        else:
            raise TypeError(
                f"TensorType: every entry of shape must be a non-negative int or None "
                f"(unknown size), got {s!r} in {tuple(shape)!r}"
            )
    return tuple(out)


def _shape_str(shape):
    return "(" + ", ".join("?" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _describe(value):
    if isinstance(value, np.ndarray):
        return f"an ndarray of dtype {value.dtype} and shape {value.shape}"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"
