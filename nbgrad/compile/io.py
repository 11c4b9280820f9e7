"""Function inputs and outputs: ``In`` (defaults, names, stateful inputs) and ``Out``."""

from nbgrad.graph.basic import Constant, Variable

__all__ = ["In", "Out", "Param"]


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
    """An output of a compiled function; ``borrow=True`` allows returning internal buffers."""

    def __init__(self, variable, borrow=False):
        self.variable = variable
        self.borrow = borrow

    def __repr__(self):
        return f"Out({self.variable}, borrow={self.borrow})"
