"""TypedListType: the type of a symbolic list whose elements share one type."""

import numpy as np

from nbgrad.graph.basic import Type

__all__ = ["TypedListType", "elements_equal"]


class TypedListType(Type):
    """A list of values of one type ``ttype`` (a ``TensorType`` or another ``TypedListType``).

    ``depth`` above 0 nests: ``TypedListType(T.dvector, depth=1)`` holds lists of lists
    of float64 vectors. Called, the type makes a variable, as a ``TensorType`` does.

    >>> import nbgrad.tensor as T
    >>> TypedListType(T.fvector)
    TypedList <TensorType(float32, vector)>
    >>> TypedListType(T.dmatrix, depth=1).get_depth()
    1
    """

    def __init__(self, ttype, depth=0):
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
            raise ValueError(f"TypedListType: depth must be an integer >= 0, got {depth!r}")
        if not isinstance(ttype, Type):
            raise TypeError(
                f"TypedListType: expected the elements' type (e.g. T.fvector or TensorType('float32', (None,))), "
                f"got {type(ttype).__name__}"
            )
        self.ttype = ttype if depth == 0 else TypedListType(ttype, depth - 1)

    @property
    def dtype(self):
        """The dtype of the innermost elements."""
        return self.ttype.dtype

    @property
    def ndim(self):
        """One more than the elements' number of dimensions (the list's own axis)."""
        return self.ttype.ndim + 1

    def get_depth(self):
        """How many list levels lie above the innermost elements, less one (0 for a flat list)."""
        return self.ttype.get_depth() + 1 if isinstance(self.ttype, TypedListType) else 0

    def filter(self, value, strict=False, allow_downcast=None, what="value"):
        """A new Python list of the elements, each converted (or checked) by the element type.

        Function inputs go through ``nbgrad.compile.io.input_converter``, which also copies
        an element passed in unconverted; the list ops copy every array they return.
        """
        if not isinstance(value, (list, tuple)) or (strict and not isinstance(value, list)):
            raise TypeError(
                f"{what}: expected a Python list of {self.ttype} values ({self}), got {type(value).__name__}"
            )
        return [self.ttype.filter(item, strict=strict, allow_downcast=allow_downcast, what=f"{what}[{k}]")
                for k, item in enumerate(value)]

    def values_eq(self, a, b):
        """Whether two lists hold equal elements (same length, same shapes, same values)."""
        return len(a) == len(b) and all(elements_equal(self.ttype, x, y) for x, y in zip(a, b))

    def is_super(self, other):
        return self == other

    def __eq__(self, other):
        return type(other) is type(self) and self.ttype == other.ttype

    def __hash__(self):
        return hash((TypedListType, self.ttype))

    def __str__(self):
        return f"TypedList <{self.ttype}>"

    __repr__ = __str__

    def make_variable(self, name=None):
        # lazy: the variable class carries the list ops, which build on this type
        from nbgrad.typed_list.basic import TypedListVariable

        return TypedListVariable(self, name=name)


def elements_equal(ttype, a, b):
    """Whether two elements of type ``ttype`` are equal (lists element by element, arrays in shape and values)."""
    if isinstance(ttype, TypedListType):
        return ttype.values_eq(a, b)
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and bool(np.all(a == b))
