"""The ops of typed lists, and the variables that carry them as methods.

Each op reads whole lists and returns new ones: nothing is done in place, and every
array an op returns is a copy, so a result never shares memory with an input. None of
the ops is differentiable (their ``L_op`` says so); read a tensor out of a list with
``getitem`` and differentiate with respect to the tensors that went in.
"""

import numpy as np

from nbgrad.graph.basic import Apply, Constant, Variable, _value_key
from nbgrad.graph.op import Op
from nbgrad.tensor.basic import as_tensor_variable, constant
from nbgrad.tensor.type import TensorType
from nbgrad.typed_list.type import TypedListType, elements_equal

__all__ = [
    "TypedListVariable", "TypedListConstant",
    "GetItem", "Append", "Extend", "Insert", "Remove", "Reverse", "Index", "Count", "Length", "MakeList",
    "getitem", "append", "extend", "insert", "remove", "reverse", "index_", "count", "length", "make_list",
]


class _ListMethods:
    """The list methods of a symbolic typed list; each returns a new symbolic value."""

    def __getitem__(self, index):
        return getitem(self, index)

    def __len__(self):
        raise TypeError(
            "len() of a symbolic list is not known until the function runs; "
            "use nbgrad.typed_list.length(tl) for its symbolic length"
        )

    def __iter__(self):
        raise TypeError(
            "a symbolic list cannot be iterated in Python; index it (tl[i]) inside a scan over "
            "T.arange(nbgrad.typed_list.length(tl))"
        )

    def append(self, value):
        return append(self, value)

    def extend(self, other):
        return extend(self, other)

    def insert(self, index, value):
        return insert(self, index, value)

    def remove(self, value):
        return remove(self, value)

    def reverse(self):
        return reverse(self)

    def count(self, value):
        return count(self, value)

    def ind(self, value):
        """The position of the first element equal to ``value`` (``index`` is taken by the owner's output index)."""
        return index_(self, value)

    ttype = property(lambda self: self.type.ttype)
    dtype = property(lambda self: self.type.dtype)
    ndim = property(lambda self: self.type.ndim)


class TypedListVariable(_ListMethods, Variable):
    """A symbolic list (``TypedListType``) with the list methods as graph-building methods."""


class TypedListConstant(_ListMethods, Constant):
    """A constant list; its elements were converted by the element type."""

    def signature(self):
        return (self.type, _list_key(self.data))


def _list_key(data):
    return tuple(_list_key(d) for d in data) if isinstance(data, list) else _value_key(data)


def _as_list(x, what):
    if isinstance(x, Variable):
        if not isinstance(x.type, TypedListType):
            raise TypeError(f"{what}: expected a typed list (TypedListType), got {x} of type {x.type}")
        return x
    raise TypeError(
        f"{what}: expected a symbolic typed list, got {type(x).__name__}; make one with "
        "TypedListType(T.fvector)() or make_list([...])"
    )


def _as_element(ttype, value, what):
    """``value`` as a variable of the list's element type ``ttype``, or a clear TypeError."""
    if not isinstance(value, Variable):
        if isinstance(ttype, TypedListType):
            value = TypedListConstant(ttype, value)
        else:
            value = constant(np.asarray(ttype.filter(value, what=what)))
    if not ttype.is_super(value.type):
        raise TypeError(f"{what}: the list holds {ttype} values, got {value} of type {value.type}")
    return value


def _as_position(i, what):
    i = as_tensor_variable(i)
    if i.ndim != 0 or i.dtype not in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"):
        raise TypeError(f"{what}: expected an integer scalar index, got {i} of type {i.type}")
    return i


def _position(n, i, what):
    i = int(i)
    if not -n <= i < n:
        raise IndexError(f"{what}: index {i} is out of range for a list of {n} element(s)")
    return i


def _copy(value):
    return [_copy(v) for v in value] if isinstance(value, list) else value.copy()


class _ListOp(Op):
    """Shared parts of the list ops: the printed name, and no gradient through a list."""

    __props__ = ()

    def __str__(self):
        return type(self).__name__

    @property
    def what(self):
        """The name errors give: the op's function name (``append``, ``index``...)."""
        return type(self).__name__.lower()

    def _list_and_element(self, x, value):
        """``x`` checked as a list and ``value`` as one of its elements (converted if a value)."""
        x = _as_list(x, self.what)
        return x, _as_element(x.type.ttype, value, self.what)

    def vectorize_node(self, node, inputs):
        """A list has no batch axis, and a batch of lists is no tensor: refuse, naming the op."""
        raise TypeError(
            f"{self}: typed lists have no batched form (vectorize_graph, jacobian and hessian batch "
            "tensors only); batch the tensors read out of the list instead, or loop in Python"
        )


class GetItem(_ListOp):
    """``x[i]`` for an integer scalar ``i`` (an element), or ``x[start:stop:step]`` (a list).

    A slice's bounds are Python ints or None, kept on the op (``bounds``).
    """

    __props__ = ("bounds",)

    def __init__(self, bounds=None):
        self.bounds = None if bounds is None else tuple(bounds)

    def __str__(self):
        if self.bounds is None:
            return "GetItem"
        start, stop, step = ("" if b is None else str(b) for b in self.bounds)
        return f"GetItem{{{start}:{stop}" + (f":{step}" if step else "") + "}"

    def make_node(self, x, index=None):
        x = _as_list(x, self.what)
        if self.bounds is not None:
            return Apply(self, [x], [x.type()])
        i = _as_position(index, self.what)
        return Apply(self, [x, i], [x.type.ttype()])

    def perform(self, node, inputs, xp):
        if self.bounds is not None:
            return [_copy(v) for v in inputs[0][slice(*self.bounds)]]
        x, i = inputs
        return _copy(x[_position(len(x), i, self.what)])


def getitem(x, index):
    """Element ``index`` of the list ``x`` (an integer scalar), or a slice of it (a Python slice)."""
    if isinstance(index, slice):
        for b in (index.start, index.stop, index.step):
            if b is not None and not isinstance(b, (int, np.integer)):
                raise TypeError(
                    f"getitem: a slice of a typed list needs Python int bounds, got {index!r}; "
                    "index one element with a symbolic integer instead"
                )
        bounds = tuple(None if b is None else int(b) for b in (index.start, index.stop, index.step))
        return GetItem(bounds)(x)
    return GetItem()(x, index)


class Append(_ListOp):
    """A new list: the elements of ``x`` followed by ``value``."""

    def make_node(self, x, value):
        x, value = self._list_and_element(x, value)
        return Apply(self, [x, value], [x.type()])

    def perform(self, node, inputs, xp):
        x, value = inputs
        return _copy(x) + [_copy(value)]


class Extend(_ListOp):
    """A new list: the elements of ``x`` followed by those of the list ``other``."""

    def make_node(self, x, other):
        x = _as_list(x, self.what)
        if not isinstance(other, Variable):
            other = TypedListConstant(x.type, other)
        other = _as_list(other, self.what)
        if other.type != x.type:
            raise TypeError(f"extend: both lists must have one type, got {x.type} and {other.type}")
        return Apply(self, [x, other], [x.type()])

    def perform(self, node, inputs, xp):
        return _copy(inputs[0]) + _copy(inputs[1])


class Insert(_ListOp):
    """A new list: ``x`` with ``value`` inserted before position ``index`` (as ``list.insert``)."""

    def make_node(self, x, index, value):
        x, value = self._list_and_element(x, value)
        return Apply(self, [x, _as_position(index, self.what), value], [x.type()])

    def perform(self, node, inputs, xp):
        x, i, value = inputs
        out = _copy(x)
        out.insert(int(i), _copy(value))
        return out


class Remove(_ListOp):
    """A new list: ``x`` without its first element equal to ``value`` (shape and values)."""

    def make_node(self, x, value):
        x, value = self._list_and_element(x, value)
        return Apply(self, [x, value], [x.type()])

    def perform(self, node, inputs, xp):
        x, value = inputs
        k = _find(node.inputs[0].type.ttype, x, value, self.what)
        return _copy(x[:k] + x[k + 1:])


class Reverse(_ListOp):
    """A new list: the elements of ``x`` in reverse order."""

    def make_node(self, x):
        x = _as_list(x, self.what)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, xp):
        return _copy(inputs[0][::-1])


def _find(ttype, x, value, what):
    for k, item in enumerate(x):
        if elements_equal(ttype, item, value):
            return k
    raise ValueError(f"{what}: no element of the list (of {len(x)}) is equal to the value given")


class _CountOfList(_ListOp):
    """A list op whose result is an int64 scalar."""

    def infer_shape(self, fgraph, node, input_shapes):
        return [()]


class Index(_CountOfList):
    """The position (int64) of the first element of ``x`` equal to ``value``; an error if none is."""

    def make_node(self, x, value):
        x, value = self._list_and_element(x, value)
        return Apply(self, [x, value], [TensorType("int64", ())()])

    def perform(self, node, inputs, xp):
        x, value = inputs
        return xp.asarray(_find(node.inputs[0].type.ttype, x, value, self.what), dtype="int64")

class Count(_CountOfList):
    """How many elements of ``x`` are equal to ``value`` (int64)."""

    def make_node(self, x, value):
        x, value = self._list_and_element(x, value)
        return Apply(self, [x, value], [TensorType("int64", ())()])

    def perform(self, node, inputs, xp):
        x, value = inputs
        ttype = node.inputs[0].type.ttype
        return xp.asarray(sum(elements_equal(ttype, item, value) for item in x), dtype="int64")

class Length(_CountOfList):
    """The number of elements of ``x`` (an int64 scalar)."""

    def make_node(self, x):
        x = _as_list(x, self.what)
        return Apply(self, [x], [TensorType("int64", ())()])

    def perform(self, node, inputs, xp):
        return xp.asarray(len(inputs[0]), dtype="int64")


class MakeList(_ListOp):
    """A list of the given variables, which must all have one type."""

    def make_node(self, *elements):
        if not elements:
            raise TypeError("make_list: give at least one element (its type is the list's element type)")
        elements = [e if isinstance(e, Variable) else as_tensor_variable(e) for e in elements]
        first = elements[0].type
        for e in elements[1:]:
            if e.type != first:
                raise TypeError(f"make_list: every element must have one type, got {first} and {e.type}")
        return Apply(self, elements, [TypedListType(first)()])

    def perform(self, node, inputs, xp):
        return [_copy(v) for v in inputs]


append = Append()
extend = Extend()
insert = Insert()
remove = Remove()
reverse = Reverse()
index_ = Index()
count = Count()
length = Length()


def make_list(elements):
    """A symbolic list of ``elements`` (variables or values of one type)."""
    return MakeList()(*elements)
