"""Results of a ``%%symgraph`` cell that are lists or tuples of variables.

``grad(z, [x, y])`` gives a list; the cell compiles its variables with the
others into one function, and :class:`GroupedFunction` gives them back grouped
as the cell assigned them.
"""

from nbgrad.graph import Variable

__all__ = ["GroupedFunction", "leaves"]


def leaves(value):
    """The variables of ``value`` in order: ``[value]`` for a Variable, those of a
    non-empty (nested) list or tuple of Variables, else None.

    Examples
    --------
    >>> import nbgrad.tensor as T
    >>> x, y = T.dscalars("x", "y")
    >>> [v.name for v in leaves([x, (y, x)])]
    ['x', 'y', 'x']
    >>> leaves([x, 2]) is None, leaves([]) is None
    (True, True)
    """
    if isinstance(value, Variable):
        return [value]
    if not isinstance(value, (list, tuple)) or not value:
        return None
    out = []
    for item in value:
        sub = leaves(item)
        if sub is None:
            return None
        out += sub
    return out


def _grouping(shape, counter):
    """Python source that builds ``shape``'s structure from the flat results ``r``."""
    if isinstance(shape, Variable):
        return f"r[{next(counter)}]"
    items = [_grouping(item, counter) for item in shape]
    if isinstance(shape, tuple):
        return "(" + "".join(f"{i}, " for i in items) + ")"
    return "[" + ", ".join(items) + "]"


class GroupedFunction:
    """A compiled function whose outputs come back grouped as ``shape`` groups its variables.

    Calling it calls ``function`` (an nbgrad Function returning the variables of
    ``shape`` as one flat list) and regroups the values with a grouping written
    out once, at construction. Everything else (``maker``, ``source``, ``copy``,
    the notebook display, ...) is the function's.

    Parameters
    ----------
    function : nbgrad Function
    shape : Variable, or (nested) list or tuple of Variables

    Examples
    --------
    >>> import nbgrad, nbgrad.tensor as T
    >>> x, y = T.dscalars("x", "y")
    >>> z = x * y
    >>> shape = [z, T.grad(z, [x, y])]
    >>> f = GroupedFunction(nbgrad.function([x, y], leaves(shape)), shape)
    >>> z_value, (dz_dx, dz_dy) = f(2.0, 3.0)
    >>> float(z_value), float(dz_dx), float(dz_dy)
    (6.0, 3.0, 2.0)
    """

    def __init__(self, function, shape):
        n = len(function.maker.outputs)
        if leaves(shape) is None or len(leaves(shape)) != n:
            raise ValueError(
                f"GroupedFunction: shape must be a variable or a (nested) list or tuple of "
                f"{n} variables, one per output of the function, got {shape!r}"
            )
        self.function = function
        self.shape = shape
        counter = iter(range(n))
        self._group = eval("lambda r: " + _grouping(shape, counter))  # noqa: S307 - indices only

    def __call__(self, *args, **kwargs):
        return self._group(self.function(*args, **kwargs))

    def __getattr__(self, name):
        if name in ("function", "shape", "_group"):  # not set yet (a copy being made)
            raise AttributeError(name)
        return getattr(self.function, name)

    def __repr__(self):
        return f"GroupedFunction({self.function!r})"
