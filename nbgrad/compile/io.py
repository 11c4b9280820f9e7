"""Function inputs and outputs: ``In`` (defaults, names, stateful inputs) and ``Out``,
and the conversion of the values passed for inputs (``input_converter``)."""

import numpy as np

from nbgrad.graph.basic import Constant, Variable

__all__ = ["In", "Out", "Param", "input_converter", "refuse_masked"]


class In:
    """An input of a compiled function, with options.

    Parameters
    ----------
    variable : Variable
        The symbolic input.
    name : str, optional
        Keyword under which the value may be passed (default: the variable's name).
    value : optional
        Default value used when the caller omits this input.
    update : Variable, optional
        Makes the input stateful: after each call its stored value becomes ``update``.
    mutable : bool
        Whether the function may overwrite the array passed in (default False).
    strict : bool
        Require exactly the right dtype (no conversion).
    allow_downcast : bool, optional
        Allow lossy conversions of this input.

    Examples
    --------
    >>> import nbgrad, nbgrad.tensor as T
    >>> from nbgrad.compile.io import In
    >>> x, y, w = T.dscalars("x", "y", "w")
    >>> f = nbgrad.function([x, In(y, value=1), In(w, value=2, name="w_by_name")], (x + y) * w)
    >>> float(f(33)), float(f(33, 2)), float(f(33, w_by_name=1, y=0))
    (68.0, 70.0, 33.0)
    """

    def __init__(self, variable, name=None, value=None, update=None, mutable=None,
                 strict=False, allow_downcast=None, autoname=True, implicit=False,
                 borrow=False, shared=False):
        if not isinstance(variable, Variable):
            raise TypeError(f"In() takes a symbolic variable, got {type(variable).__name__} {variable!r}")
        if isinstance(variable, Constant):
            raise TypeError(f"In(): {variable} is a constant and cannot be a function input")
        self.variable = variable
        self.name = name if name is not None else (variable.name if autoname else None)
        self.value = value
        self.update = update
        self.mutable = bool(mutable) if mutable is not None else update is not None
        self.strict = strict
        self.allow_downcast = allow_downcast
        self.implicit = implicit
        self.borrow = borrow

    @property
    def has_default(self):
        return self.value is not None

    def __repr__(self):
        return f"In({self.variable}, name={self.name!r}, value={self.value!r})"


def Param(variable, default=None, name=None, mutable=False, strict=False, allow_downcast=None):
    """Theano's old name for ``In(variable, value=default, name=name)``.

    >>> import nbgrad, nbgrad.tensor as T
    >>> x, b = T.dscalars("x", "b")
    >>> f = nbgrad.function([x, nbgrad.Param(b, default=10.0)], x + b)
    >>> float(f(1.0))
    11.0
    """
    return In(variable, name=name, value=default, mutable=mutable, strict=strict,
              allow_downcast=allow_downcast)


class Out:
    """An output of a compiled function, with options.

    By default every returned array is the caller's own: it shares no memory with an
    input, a shared variable's value or another output, so changing it in place changes
    nothing else. ``borrow=True`` lets the function skip the copy this sometimes takes
    and return an array it also holds (the caller's input array, the new value of a
    shared variable, ...); write into such a result only when that is what you want.

    >>> import numpy as np, nbgrad, nbgrad.tensor as T
    >>> w = nbgrad.shared(np.arange(3.0), name="w")
    >>> step = nbgrad.function([], w + 1, updates=[(w, w + 1)])
    >>> r = step()
    >>> r[:] = 0.0  # the result is a copy: w keeps its new value
    >>> w.get_value()
    array([1., 2., 3.])
    """

    def __init__(self, variable, borrow=False):
        self.variable = variable
        self.borrow = borrow

    def __repr__(self):
        return f"Out({self.variable}, borrow={self.borrow})"


# --------------------------------------------------------------------------- converting values

_MaskedArray = np.ma.MaskedArray
_INF = float("inf")
_NUMERIC_KINDS = frozenset("biufc")
_KIND_NAMES = {"U": "strings", "S": "byte strings", "O": "Python objects", "M": "dates",
               "m": "time intervals", "V": "structured records"}
# the widest dtype of each kind: text and Python objects are parsed into it before the range check
_WIDEST = {"b": np.dtype(np.float64), "i": np.dtype(np.int64), "u": np.dtype(np.uint64),
           "f": np.dtype(np.float64), "c": np.dtype(np.complex128)}


def refuse_masked(value, what):
    """Raise a TypeError for a ``numpy.ma.MaskedArray``, whose mask nbgrad would drop."""
    if isinstance(value, _MaskedArray):
        n = int(np.ma.count_masked(value))
        raise TypeError(
            f"{what}: got a numpy.ma.MaskedArray ({n} masked element(s)); nbgrad computes on "
            "plain arrays and would silently drop the mask. Choose what the masked entries "
            "should be: pass value.filled(fill_value), or np.asarray(value) to use the "
            "underlying data as it is"
        )


def input_converter(ttype, strict=False, allow_downcast=None, what="value"):
    """``convert(value)``: ``value`` as an array of ``ttype``, or a clear error naming ``what``.

    Adds to ``ttype.filter`` what a function input needs: masked arrays and arrays of
    non-numbers are refused with a hint that helps, and where the conversion may lose
    information (``allow_downcast`` true, or Python numbers into a float32/float16 input)
    a value that does not fit the dtype raises instead of wrapping around or becoming
    infinite. Rounding a finite value to the nearest representable one (0.1 into
    float32, 2.7 into an integer type) is what a downcast means and passes.

    >>> import nbgrad.tensor as T
    >>> convert = input_converter(T.bscalar().type, allow_downcast=True, what="input 0 ('n')")
    >>> int(convert(100.0))
    100
    >>> convert(300)
    Traceback (most recent call last):
    ...
    ValueError: input 0 ('n'): 300 does not fit in int8 (from -128 to 127); ...
    """
    filt = ttype.filter
    dtype = ttype.numpy_dtype
    fit = _Fit(dtype, what) if allow_downcast else None
    # without allow_downcast, Python numbers still go into a float input as they are
    # (Theano's rule for floatX), and may overflow float32 or float16
    fit_numbers = (_Fit(dtype, what) if allow_downcast is None and dtype.kind == "f"
                   and dtype.itemsize < 8 else None)

    def convert(value):
        if isinstance(value, _MaskedArray):
            refuse_masked(value, what)
        if not strict:
            kind = getattr(getattr(value, "dtype", None), "kind", None)
            if fit is not None:
                value = fit(value)
            elif kind is None:
                if fit_numbers is not None:
                    value = fit_numbers(value)
            elif kind not in _NUMERIC_KINDS:
                raise TypeError(_not_numbers(value, dtype, what))
        return filt(value, strict, allow_downcast, what)

    return convert


def _not_numbers(value, dtype, what):
    kind = value.dtype.kind
    hint = "pass an array of numbers"
    if kind in "US":
        hint = f"parse the strings into numbers first (e.g. value.astype('{dtype.name}'))"
    elif kind == "O":
        hint = (f"pass an array of numbers (np.asarray(value, dtype='{dtype.name}') shows "
                "which entry is not a number)")
    elif kind in "Mm":
        hint = "convert them into numbers first (e.g. value.astype('int64') counts units)"
    return (f"{what}: expected {dtype.name} numbers, got an array of "
            f"{_KIND_NAMES.get(kind, 'non-numbers')} (dtype {value.dtype}); {hint}")


class _Fit:
    """Converts a value to ``dtype`` when it fits, else raises a ValueError naming the value.

    Fits: every finite value in the dtype's range (rounded to the nearest value the dtype
    holds, truncated towards zero into integers); NaN and infinity into float types.
    Does not fit: values out of range (which NumPy would wrap around or turn into
    infinity), NaN or infinity into integer types, a nonzero imaginary part into a real
    type, anything but 0 and 1 into bool.
    """

    def __init__(self, dtype, what):
        self.dtype, self.what = dtype, what
        kind = dtype.kind
        if kind in "iu":
            info = np.iinfo(dtype)
            self.lo, self.hi = int(info.min), int(info.max)
            self.range = f"from {info.min} to {info.max}"
        elif kind in "fc":
            info = np.finfo(dtype)
            # the smallest magnitude that rounds to infinity: the largest finite value plus half
            # of its spacing
            self.limit = float(info.max) + 2.0 ** (info.maxexp - info.nmant - 2)
            self.range = f"finite values up to ±{float(info.max):.6g}"
        else:
            self.range = "0 or 1"

    def __call__(self, value):
        dtype = self.dtype
        if type(value) in (float, int, bool):  # the common case, without array work
            if self._fits_number(value):
                return value
            return self._refuse(value, (), value)
        try:
            raw = np.asarray(value)
        except Exception:  # noqa: BLE001 - the type's filter reports what cannot be an array
            return value
        kind = raw.dtype.kind
        if raw.dtype == dtype or kind == "b":
            return raw
        if kind not in _NUMERIC_KINDS:
            raw = self._parse(value, raw)
            if raw is value or raw.dtype == dtype:
                return raw
        if np.can_cast(raw.dtype, dtype, "safe"):
            return raw
        if raw.dtype.kind == "c" and dtype.kind != "c":
            self._refuse_where(raw.imag != 0, raw, value)
            raw = raw.real
        with np.errstate(all="ignore"):
            out = raw.astype(dtype)
            self._refuse_where(self._misfits(raw, out), raw, value)
        return out

    def _fits_number(self, x):
        kind = self.dtype.kind
        if kind in "iu":
            if type(x) is float:
                return x == x and abs(x) != _INF and self.lo <= int(x) <= self.hi
            return self.lo <= x <= self.hi
        if kind in "fc":
            return abs(x) < self.limit or type(x) is float and (x != x or abs(x) == _INF)
        return x in (0, 1)

    def _misfits(self, raw, out):
        """Mask of the elements of ``raw`` (real) whose conversion ``out`` is wrong."""
        kind = self.dtype.kind
        if kind in "iu":
            if raw.dtype.kind == "f":
                whole = np.trunc(raw)  # the conversion truncates towards zero
                return ~((whole >= self.lo) & (whole <= self.hi))  # NaN compares false
            return (raw < self.lo) | (raw > self.hi)
        if kind in "fc":
            return np.isinf(out) & np.isfinite(raw)
        return (raw != 0) & (raw != 1)

    def _refuse_where(self, bad, raw, value):
        if bad.any():
            index = np.unravel_index(int(np.argmax(bad)), raw.shape) if raw.ndim else ()
            self._refuse(raw[index].item(), tuple(int(i) for i in index), value)

    def _parse(self, value, raw):
        """Text or Python objects as numbers of the widest dtype of the target's kind."""
        kind = raw.dtype.kind
        is_array = isinstance(value, np.ndarray)
        if kind not in "USO":
            raise TypeError(_not_numbers(raw, self.dtype, self.what))
        if kind in "US" and not is_array:
            return value  # text outside an array is refused by the type's filter
        try:
            return raw.astype(_WIDEST[self.dtype.kind])
        except OverflowError:
            return self._refuse(value, (), value)
        except (TypeError, ValueError) as exc:
            if not is_array:
                return value  # e.g. a list holding None: the type's filter explains it
            raise ValueError(
                f"{self.what}: cannot convert the {_KIND_NAMES[kind]} in {_shown(value)} to "
                f"{self.dtype.name}: {exc}; pass numbers, or text that reads as a number"
            ) from None

    def _refuse(self, bad, index, value):
        where = f" (at index {index} of {_shown(value)})" if index else ""
        raise ValueError(
            f"{self.what}: {bad!r} does not fit in {self.dtype.name} ({self.range}){where}; "
            "a downcast rounds values but never wraps them around or turns them into infinity. "
            "Pass a value in range, or declare the input with a wider dtype"
        )


def _shown(value):
    if isinstance(value, np.ndarray) and value.ndim:
        return f"the array of shape {value.shape}"
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= 40 else text[:37] + "..."
