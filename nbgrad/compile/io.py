"""Function inputs and outputs: ``In`` (defaults, names, stateful inputs) and ``Out``,
and the conversion of the values passed for inputs (``input_converter``)."""

import numpy as np

from nbgrad.graph.basic import Constant, Type, Variable

__all__ = ["Container", "In", "Out", "Param", "as_in", "input_converter", "refuse_masked"]


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


def as_in(spec):
    """``spec`` as an ``In``: Theano's shorthand forms of a function input, upgraded.

    ===========================  ==============================================
    ``r``                        ``In(r)``
    ``(name, r)``                ``In(r, name=name)``
    ``(r, value)``               ``In(r, value=value)``
    ``((r, update), value)``     ``In(r, value=value, update=update)``
    ``(name, r, value)``         ``In(r, name=name, value=value)``
    ``(name, (r, update), value)``  ``In(r, name=name, value=value, update=update)``
    ===========================  ==============================================

    >>> import nbgrad, nbgrad.tensor as T
    >>> n, total = T.dscalars("n", "total")
    >>> count = nbgrad.function([n, ((total, total + n), 0.0)], total)
    >>> [float(count(2.0)) for _ in range(3)]
    [0.0, 2.0, 4.0]
    """
    if isinstance(spec, (In, Variable)):
        return spec if isinstance(spec, In) else In(spec)
    if not isinstance(spec, tuple) or len(spec) not in (2, 3):
        raise TypeError(
            f"function inputs must be symbolic variables or In(...), or one of the tuples "
            f"(name, var), (var, value), ((var, update), value), (name, var, value), "
            f"(name, (var, update), value); got {type(spec).__name__} {spec!r}"
        )
    name = None
    if isinstance(spec[0], str):
        name, spec = spec[0], spec[1:]
        if len(spec) == 1:
            return In(_input_variable(spec[0], spec), name=name)
    elif len(spec) == 3:
        raise TypeError(
            f"function input {spec!r}: a 3-tuple must be (name, var, value) with a string name first"
        )
    target, value = spec
    update = None
    if isinstance(target, tuple):
        if len(target) != 2:
            raise TypeError(
                f"function input {spec!r}: the stateful form is ((var, update), value), got {target!r}"
            )
        target, update = target
    return In(_input_variable(target, spec), name=name, value=value, update=update)


def _input_variable(v, spec):
    if not isinstance(v, Variable):
        raise TypeError(
            f"function input {spec!r}: expected a symbolic variable where {v!r} stands; "
            "the forms are (name, var), (var, value) and ((var, update), value)"
        )
    return v


class Container:
    """The storage of one input of a compiled function (``f.container[x]``).

    ``value`` reads the input's stored value (its default, or the state of an input
    with an update) and assigns a new one, converted to the input's type; the
    compiled function uses it whenever a call leaves the input out.
    """

    __slots__ = ("_fn", "_k")

    def __init__(self, fn, k):
        self._fn, self._k = fn, k

    @property
    def value(self):
        cell = self._fn._defaults[self._k]
        return None if cell is None else cell[0]

    @value.setter
    def value(self, new):
        fn, k = self._fn, self._k
        inp = fn.maker.inputs[k]
        what = f"the stored value of input {k}" + (f" ({inp.name!r})" if inp.name else "")
        new = input_converter(inp.variable.type, inp.strict, inp.allow_downcast, what)(new)
        cell = fn._defaults[k]
        if cell is None:
            fn._defaults[k] = [new]
        else:
            cell[0] = new

    def __repr__(self):
        return f"<Container of input {self._k}: {self.value!r}>"


class InputStorage:
    """``f.value`` and ``f.container``: a compiled function's inputs by position, name or variable.

    A key is the input's position in the inputs list, its name, its symbolic variable or
    its ``In``. ``f.value[key]`` is the stored value (None for an input without one);
    ``f.container[key]`` is the input's ``Container``. Both accept assignment of a new
    stored value.
    """

    __slots__ = ("_fn", "_containers")

    def __init__(self, fn, containers):
        self._fn, self._containers = fn, containers

    def _position(self, key):
        inputs = self._fn.maker.inputs
        if isinstance(key, int) and not isinstance(key, bool):
            if -len(inputs) <= key < len(inputs):
                return key % len(inputs)
        else:
            for k, inp in enumerate(inputs):
                if key is inp.variable or key is inp or (isinstance(key, str) and key == inp.name):
                    return k
        names = [i.name for i in inputs if i.name]
        raise KeyError(
            f"{self._fn._label()} has no input {key!r}; use a position (0 to {len(inputs) - 1}), "
            f"a name ({', '.join(map(repr, names)) or 'no input is named'}) or an input variable"
        )

    def __getitem__(self, key):
        c = Container(self._fn, self._position(key))
        return c if self._containers else c.value

    def __setitem__(self, key, value):
        Container(self._fn, self._position(key)).value = value.value if isinstance(value, Container) else value

    def __contains__(self, key):
        try:
            self._position(key)
        except KeyError:
            return False
        return True

    def __len__(self):
        return len(self._fn.maker.inputs)

    def keys(self):
        return [i.variable for i in self._fn.maker.inputs]

    def __iter__(self):
        return iter(self.keys())


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
    if isinstance(getattr(ttype, "ttype", None), Type):
        return _list_converter(ttype, strict, allow_downcast, what)
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


def _list_converter(ltype, strict, allow_downcast, what):
    """``convert(value)`` for a typed list: each element converted as an input of the element type.

    An element that passes through unconverted (an array of the right type) is copied:
    no result of the function may share memory with the caller's data.
    """

    def convert(value):
        if not isinstance(value, (list, tuple)) or (strict and not isinstance(value, list)):
            raise TypeError(f"{what}: expected a Python list of {ltype.ttype} values ({ltype}), "
                            f"got {type(value).__name__}")
        out = []
        for k, item in enumerate(value):
            conv = input_converter(ltype.ttype, strict, allow_downcast, f"{what}[{k}]")(item)
            out.append(conv.copy() if conv is item and isinstance(conv, np.ndarray) else conv)
        return out

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
